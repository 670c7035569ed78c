"""PyTorch: network (the layer list as modules), training (augmentation, loader, optimizer, loss), runtime
(threads, TF32) and the adapter that the harness calls."""
