"""Keras 3 on any backend: network (the layer list as a functional model), optimizers (torch's conventions),
training (augmentation, mixup, loss) and the adapter that the harness calls."""
