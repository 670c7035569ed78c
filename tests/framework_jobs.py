"""Framework work for the tests, run in one spawned process per framework (see `framework_process`).

TensorFlow and torch both computing in one process can crash it (their thread pools clash), so
the test process itself never computes in either: it sends these functions to a process that
only ever uses one framework.
"""

from __future__ import annotations

import numpy as np

from bench.data import cifar
from bench.frameworks.base import get_adapter
from bench.spec import registry
from bench.spec.execution import Execution
from bench.spec.recipes import get_recipe


def _adapter(framework: str, seed: int = 0, device: str = "cpu", execution: Execution = Execution()):
    adapter = get_adapter(framework)
    adapter.setup(device, threads=2, seed=seed, execution=execution)
    return adapter


def constant_rates(images: int, recipe) -> np.ndarray:
    """The learning rate of each step of one epoch under a constant schedule."""
    return np.full(-(-images // recipe.batch_size), recipe.learning_rate)


def parameter_counts(framework: str, model: str, num_classes: int) -> tuple[int, int]:
    adapter = _adapter(framework)
    return adapter.count_params(adapter.build(registry.layers(model, num_classes), model))


def first_epoch_loss(framework: str, seed: int) -> float:
    adapter = _adapter(framework, seed)
    model = adapter.build(registry.layers("r2_vanilla_cnn", 10), "r2_vanilla_cnn")
    dataset = cifar.synthetic(train=256, test=8, seed=3)
    recipe = get_recipe("baseline").with_overrides(batch_size=64)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(model, recipe, dataset.train_x, dataset.train_y, mean, std, seed)
    order = np.random.default_rng(seed).permutation(256)
    return adapter.train_epoch(model, state, order, constant_rates(256, recipe)).loss


def host_reads_in_an_epoch(framework: str, steps: int) -> int:
    """How often the adapter's code reads a value back from the device (a host sync on a GPU) in the training
    thread during one epoch of `steps` steps: torch tensors read by item/bool/float/int/tolist/numpy/cpu,
    keras tensors by convert_to_numpy."""
    import sys
    import threading
    from unittest import mock

    training_thread, reads = threading.get_ident(), []

    def counted(original):
        def read(*args, **kwargs):
            caller = sys._getframe(1).f_globals.get("__name__", "")
            # torch's optimizers read their step counters, which stay on the host beside GPU weights; keras
            # converts its batch logs in the training thread only on TensorFlow, whose backend it deems not
            # thread-safe (on JAX and torch a second thread does it): keras's own cost, as in a plain fit.
            ours = not caller.startswith(("torch.optim", "keras.src.utils.python_utils"))
            if threading.get_ident() == training_thread and ours:
                reads.append(f"{caller}: {original.__name__}")
            return original(*args, **kwargs)

        return read

    adapter = _adapter(framework)
    model = adapter.build(registry.layers("r2_vanilla_cnn", 10), "r2_vanilla_cnn")
    dataset = cifar.synthetic(train=8 * steps, test=8)
    recipe = get_recipe("baseline").with_overrides(batch_size=8)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(model, recipe, dataset.train_x, dataset.train_y, mean, std, 0)
    if framework == "torch":
        import torch

        names = ("item", "__bool__", "__float__", "__int__", "tolist", "numpy", "cpu")
        patches = [mock.patch.object(torch.Tensor, name, counted(getattr(torch.Tensor, name))) for name in names]
    else:
        import keras.src.backend

        patches = [
            mock.patch.object(keras.src.backend, "convert_to_numpy", counted(keras.src.backend.convert_to_numpy))
        ]
    for patch in patches:
        patch.start()
    try:
        adapter.train_epoch(model, state, np.arange(8 * steps), constant_rates(8 * steps, recipe))
    finally:
        for patch in patches:
            patch.stop()
    return len(reads)


def augment(framework: str, images: np.ndarray, padding: int, flip: bool) -> np.ndarray:
    if framework == "torch":
        import torch

        from bench.frameworks.torch.training import augment

        generator = torch.Generator().manual_seed(0)
        return augment(torch.from_numpy(images), padding, flip, generator).numpy()
    import keras

    from bench.frameworks.keras.training import augment

    out = augment(keras.ops.convert_to_tensor(images), padding, flip, keras.random.SeedGenerator(0))
    return keras.ops.convert_to_numpy(out)


_EPOCHS: dict[str, tuple] = {}  # model -> (adapter, model, state, images), kept in this process between calls


def prepare_epoch(
    framework: str, model: str, images: int, batch_size: int, device: str = "cpu", execution: Execution = Execution()
) -> dict:
    """Build `model` and its optimizer on an `images`-image slice of CIFAR-10 (synthetic when absent)."""
    adapter = _adapter(framework, device=device, execution=execution)
    built = adapter.build(registry.layers(model, 10), model)
    splits = _training_slice(images)
    recipe = get_recipe("baseline").with_overrides(batch_size=batch_size)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(built, recipe, splits.train_x, splits.train_y, mean, std, 0)
    _EPOCHS[model] = (adapter, built, state, images)
    return {"dataset": splits.dataset.label, **{k: v for k, v in adapter.settings(built).items() if v is not None}}


def _training_slice(images: int) -> cifar.Splits:
    """The first `images` class-balanced training images of CIFAR-10 (synthetic where no copy is found)."""
    try:
        dataset = cifar.load("cifar10")
    except Exception:
        dataset = cifar.synthetic()
    return cifar.split(dataset, val_size=0, train_subset=images)


def train_one_epoch(framework: str, model: str) -> float:
    """One training epoch of the prepared model, ended by a device synchronisation; returns its loss."""
    adapter, built, state, images = _EPOCHS[model]
    stats = adapter.train_epoch(built, state, np.arange(images), constant_rates(images, state.recipe))
    adapter.synchronize()
    return stats.loss


def _without_dropout_torch(model) -> None:
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def torch_reference(framework: str, model: str, images: np.ndarray, batches: list[np.ndarray]) -> dict:
    """A torch model's weights (with random BN statistics), its inference and training-mode logits,
    and its BN running statistics after training-mode passes over `batches` (no weight updates)."""
    import torch

    from bench.frameworks.torch.network import export_weights

    adapter = _adapter("torch")
    built = adapter.build(registry.layers(model, 10), model, images.shape[1:])
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for module in built.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.normal_(0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.1, generator=generator)
    weights = export_weights(built)
    as_nchw = lambda array: torch.from_numpy(array).permute(0, 3, 1, 2)  # noqa: E731
    with torch.no_grad():
        built.eval()
        inference = built(as_nchw(images)).numpy()
        built.train()
        _without_dropout_torch(built)
        training = built(as_nchw(images)).numpy()
        for batch in batches:
            built(as_nchw(batch))
    return {
        "weights": weights,
        "inference": inference,
        "training": training,
        "running": {
            name: {k: v for k, v in tensors.items() if k.startswith("running")}
            for name, tensors in export_weights(built).items()
            if "running_mean" in tensors
        },
    }


def keras_replay(framework: str, model: str, weights: dict, images: np.ndarray, batches: list[np.ndarray]) -> dict:
    """The keras twin of torch_reference, from the torch weights copied across by name."""
    import keras

    from bench.frameworks.keras.network import load_torch_weights

    adapter = _adapter("keras")
    layer_list = registry.layers(model, 10)
    built = adapter.build(layer_list, model, images.shape[1:])
    load_torch_weights(built, layer_list, weights)
    inference = keras.ops.convert_to_numpy(built(images, training=False))
    for layer in built.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
    training = keras.ops.convert_to_numpy(built(images, training=True))
    for batch in batches:
        built(batch, training=True)
    running = {
        layer.name: {
            "running_mean": keras.ops.convert_to_numpy(layer.moving_mean),
            "running_var": keras.ops.convert_to_numpy(layer.moving_variance),
        }
        for layer in built.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    return {"inference": inference, "training": training, "running": running}


def one_step(framework: str, model: str, num_classes: int) -> dict:
    """One optimisation step on 8 images: loss, output shape and whether every weight stayed finite. Keras
    runs it eagerly: the same layers' arithmetic without tracing a graph (2 s against up to 26 s for
    EfficientNet here); graph-mode steps are what every training test and committed trial run."""
    adapter = _adapter(framework)
    layer_list = registry.layers(model, num_classes)
    built = adapter.build(layer_list, model)
    dataset = cifar.synthetic(num_classes=num_classes, train=8, test=8)
    recipe = get_recipe("baseline").with_overrides(batch_size=8)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(built, recipe, dataset.train_x, dataset.train_y, mean, std, 0)
    if framework == "keras":
        state.trainer.run_eagerly = True
    loss = adapter.train_epoch(built, state, np.arange(8), constant_rates(8, recipe)).loss
    logits = adapter.predict(built, state, dataset.test_x)
    finite = all(
        np.isfinite(tensor).all()
        for tensors in adapter.export_weights(built, layer_list).values()
        for tensor in tensors.values()
    )
    return {"loss": loss, "shape": logits.shape, "finite": finite}


def torch_flops(framework: str, model: str, num_classes: int) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    built = _adapter("torch").build(registry.layers(model, num_classes), model).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        built(torch.zeros(1, 3, 32, 32))
    return counter.get_total_flops()


def pretrained_logits(
    framework: str, model: str, path: str, num_classes: int, images: np.ndarray, resize: int | None = None
) -> dict:
    """Inference logits of `model` (after an optional input resize) once a torchvision weights file is
    loaded, and what was skipped."""
    from bench.data.pretrained import read_torchvision
    from bench.spec import layers

    adapter = _adapter(framework)
    layer_list = registry.layers(model, num_classes, resize=resize)
    built = adapter.build(layer_list, model)
    weights, skipped = read_torchvision(path, layers.torch_tensor_shapes(layer_list))
    adapter.load_weights(built, layer_list, weights)
    return {"logits": adapter.logits(built, images), "skipped": skipped}


def torchvision_reference(
    framework: str, architecture: str, path: str, images: np.ndarray, num_classes: int = 1000, resize: int | None = None
) -> np.ndarray:
    """Write a randomly initialised torchvision network's state dict (BatchNorm statistics randomised
    too) to `path`; return its logits for `images` (resized first, bilinear, when asked)."""
    import torch
    import torchvision

    torch.manual_seed(0)
    reference = getattr(torchvision.models, architecture)(weights=None, num_classes=num_classes).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
        torch.save(reference.state_dict(), path)
        inputs = torch.from_numpy(images).permute(0, 3, 1, 2)
        if resize:
            inputs = torch.nn.functional.interpolate(
                inputs, size=(resize, resize), mode="bilinear", align_corners=False
            )
        return reference(inputs).numpy()


def fine_tuning_phases(framework: str, model: str, path: str, num_classes: int) -> dict:
    """Train one epoch with the loaded layers frozen, then one with every layer free; which layers changed
    in each, and the trainable parameter counts."""
    from bench.data.pretrained import read_torchvision
    from bench.spec import layers

    adapter = _adapter(framework)
    layer_list = registry.layers(model, num_classes)
    built = adapter.build(layer_list, model)
    weights, _ = read_torchvision(path, layers.torch_tensor_shapes(layer_list))
    adapter.load_weights(built, layer_list, weights)
    dataset = cifar.synthetic(num_classes=num_classes, train=64, test=8, seed=1)
    recipe = get_recipe("r4_pretrained").with_overrides(batch_size=32)
    mean, std = cifar.IMAGENET_NORMALISATION
    state = adapter.prepare(built, recipe, dataset.train_x, dataset.train_y, mean, std, 0)
    result = {"backbone": sorted(weights)}
    for phase, frozen in (("frozen", set(weights)), ("free", set())):
        adapter.freeze(built, state, frozen)
        before = adapter.export_weights(built, layer_list)
        adapter.train_epoch(built, state, np.arange(64), constant_rates(64, recipe))
        after = adapter.export_weights(built, layer_list)
        result[phase] = {
            "changed": sorted(
                name
                for name in before
                if any(not np.array_equal(before[name][tensor], after[name][tensor]) for tensor in before[name])
            ),
            "trainable": adapter.count_params(built)[0],
        }
    return result


def recipe_loss_value(
    framework: str, recipe, logits: np.ndarray, targets: np.ndarray, class_weights: list[float] | None
) -> float:
    """The recipe's loss on given logits and target probabilities, in `framework`."""
    if framework == "torch":
        import torch

        from bench.frameworks.torch.training import recipe_loss

        weights = torch.tensor(class_weights) if class_weights else None
        return float(recipe_loss(torch.from_numpy(logits), torch.from_numpy(targets), recipe, weights))
    import keras

    from bench.frameworks.keras.training import recipe_loss

    return float(keras.ops.mean(recipe_loss(recipe, class_weights)(targets, logits)))


def train_steps(
    framework: str,
    model: str,
    recipe,
    weights: dict | None,
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    probe: np.ndarray,
    dropout: bool = True,
    l2: float | None = None,
) -> dict:
    """Train from `weights` (torch layout; None: this framework's own init) on fixed batches in a
    fixed order, with the shared schedule; return the final logits on `probe` (in inference and in training
    mode), each epoch's training loss and the weights. Without `dropout`, the model's dropout layers are left
    out (their random draws differ by framework); with `l2`, every conv and dense kernel gets that L2 penalty."""
    import dataclasses

    from bench.run.control import TrainingControl
    from bench.spec.layers import Conv, Dense, Dropout

    adapter = _adapter(framework)
    layer_list = [layer for layer in registry.layers(model, 10) if dropout or not isinstance(layer, Dropout)]
    if l2 is not None:
        layer_list = [dataclasses.replace(x, l2=l2) if isinstance(x, Conv | Dense) else x for x in layer_list]
    built = adapter.build(layer_list, model)
    if weights is not None:
        adapter.load_weights(built, layer_list, weights)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(
        built, recipe, images, labels, mean, std, 0, recipe.class_weight_vector(cifar.CIFAR10_CLASSES)
    )
    control = TrainingControl(recipe, -(-len(labels) // recipe.batch_size))
    reported, losses = [], []
    for epoch in range(epochs):
        rates = control.learning_rates(epoch)
        stats = adapter.train_epoch(built, state, np.arange(len(labels)), rates)
        reported.append((stats.learning_rate, float(rates[-1])))
        losses.append(stats.loss)
    return {
        "logits": adapter.predict(built, state, probe),
        "training_logits": _training_mode_logits(framework, built, (probe / 255.0 - mean) / std),
        "rates": reported,
        "losses": losses,  # each epoch's mean training loss
        "weights": adapter.export_weights(built, layer_list),
    }


def _training_mode_logits(framework: str, built, inputs: np.ndarray) -> np.ndarray:
    """Logits of float NHWC `inputs` in training mode (BatchNorm on the batch's statistics), weights untouched."""
    if framework == "keras":
        import keras

        return keras.ops.convert_to_numpy(built(inputs.astype("float32"), training=True))
    import torch

    built.train()
    with torch.no_grad():
        return built(torch.from_numpy(inputs.astype("float32")).permute(0, 3, 1, 2)).numpy()


def mix_indexed_epoch(framework: str, count: int, batch_size: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Mixup of `count` images whose value is their index, with one-hot targets over `count` classes,
    batch by batch as the framework's training loop applies it."""
    inputs = np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1)
    targets = np.eye(count, dtype=np.float32)
    if framework == "torch":
        import torch

        from bench.frameworks.torch.training import mixup

        generator, rng = torch.Generator().manual_seed(0), np.random.default_rng(0)
        parts = [
            mixup(
                torch.from_numpy(inputs[s : s + batch_size]),
                torch.from_numpy(targets[s : s + batch_size]),
                rng.beta(alpha, alpha),
                generator,
            )
            for s in range(0, count, batch_size)
        ]
        return (np.concatenate([p[0].numpy() for p in parts]), np.concatenate([p[1].numpy() for p in parts]))
    import keras

    from bench.frameworks.keras.training import mixup

    mixed_inputs, mixed_targets = mixup(
        keras.ops.convert_to_tensor(inputs),
        keras.ops.convert_to_tensor(targets),
        alpha,
        batch_size,
        keras.random.SeedGenerator(0),
    )
    return keras.ops.convert_to_numpy(mixed_inputs), keras.ops.convert_to_numpy(mixed_targets)


def photometric(framework: str, pixels: np.ndarray, jitter: float, degrees: float) -> np.ndarray:
    """The training-time colour jitter and rotation of NHWC float images in [0, 1]."""
    if framework == "torch":
        import torch

        from bench.frameworks.torch.training import photometric

        return photometric(torch.from_numpy(pixels), jitter, degrees, torch.Generator().manual_seed(0)).numpy()
    import keras

    from bench.frameworks.keras.training import photometric

    out = photometric(keras.ops.convert_to_tensor(pixels), jitter, degrees, keras.random.SeedGenerator(0))
    return keras.ops.convert_to_numpy(out)


def initialised_weights(framework: str, scheme: str) -> dict:
    """Kernel and bias bounds after `scheme` initialisation of r2_vanilla_cnn, per layer name."""
    adapter = _adapter(framework)
    layer_list = registry.layers("r2_vanilla_cnn", 10)
    built = adapter.build(layer_list, "r2_vanilla_cnn")
    adapter.initialise(built, scheme, 0)
    return {
        name: (
            float(np.abs(tensors["weight"]).max()),
            float(np.abs(tensors["bias"]).max()),
            float(tensors["weight"].std()),
        )
        for name, tensors in adapter.export_weights(built, layer_list).items()
    }


def yardstick_with_a_stand_in_airbench(framework: str, results: str, work: str) -> dict:
    """bench.run.yardstick.run against a stand-in for the airbench package on a pretend GPU: what it hands the
    package (whose CifarLoader reads the files as airbench's does) and the records it writes."""
    import sys
    import types
    from dataclasses import replace
    from unittest import mock

    import torch

    from bench.run import yardstick

    calls = []

    class CifarLoader:  # airbench.utils.CifarLoader's reading of the files
        def __init__(self, path, train=True, batch_size=500, aug=None, altflip=False, **_):
            stored = torch.load(f"{path}/{'train.pt' if train else 'test.pt'}", map_location="cpu")
            self.images, self.labels, self.classes = stored["images"], stored["labels"], stored["classes"]
            calls.append(
                (
                    "loader",
                    train,
                    batch_size,
                    aug,
                    altflip,
                    tuple(self.images.shape),
                    str(self.images.dtype),
                    str(self.labels.dtype),
                )
            )

    def train94(loader, run=0, verbose=True):
        calls.append(("train94", run, verbose, torch.initial_seed()))
        return "model"

    def evaluate(model, loader, tta_level=0):
        return {0: 0.935, 2: 0.941}[tta_level]

    stand_in = types.SimpleNamespace(CifarLoader=CifarLoader, train94=train94, evaluate=evaluate)
    stand_in_cifar = replace(cifar.synthetic(train=50_000, test=200), name="cifar10", label="CIFAR-10 (stand-in)")
    with (
        mock.patch.dict(sys.modules, {"airbench": stand_in}),
        mock.patch("importlib.metadata.version", lambda name: "0.1.8"),
        mock.patch.object(torch.cuda, "is_available", lambda: True),
        mock.patch.object(torch.cuda, "synchronize", lambda: None),
        mock.patch.object(torch.cuda, "get_device_name", lambda: "Stand-in GPU"),
        mock.patch.object(yardstick.cifar, "load", lambda name, data_dir=None: stand_in_cifar),
    ):
        records = yardstick.run(None, results, [3, 4], __import__("pathlib").Path(work))
    return {"calls": calls, "records": records, "loaded": yardstick.load(results)}


def prepare_plain_fit(framework: str, model: str, images: int, batch_size: int) -> None:
    """What a Keras user writes without the harness: the same network with the same augmentation as keras
    layers (zero padding 4, random 32x32 crop, random flip) in front, float inputs normalised in numpy,
    `model.compile(Adam, categorical cross-entropy)` and `model.fit` over in-memory arrays."""
    import keras

    _adapter(framework)
    splits = _training_slice(images)
    mean, std = cifar.NORMALISATION["cifar10"]
    inputs = ((splits.train_x / 255.0 - np.array(mean)) / np.array(std)).astype("float32")
    targets = np.eye(10, dtype="float32")[splits.train_y]
    augment = keras.Sequential(
        [
            keras.layers.ZeroPadding2D(4),
            keras.layers.RandomCrop(32, 32, seed=0),
            keras.layers.RandomFlip("horizontal", seed=0),
        ]
    )
    network = get_adapter(framework).build(registry.layers(model, 10), model)
    plain = keras.Sequential([keras.Input((32, 32, 3)), augment, network])
    plain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["categorical_accuracy"],
        jit_compile=False,
    )
    _EPOCHS[f"plain {model}"] = (plain, inputs, targets, batch_size)


def plain_fit_epoch(framework: str, model: str) -> float:
    plain, inputs, targets, batch_size = _EPOCHS[f"plain {model}"]
    history = plain.fit(inputs, targets, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return float(history.history["loss"][-1])


def _typed_out_of_memory(framework: str) -> BaseException:
    """The out-of-memory error this framework (and keras's backend) raises, constructed as it would be."""
    if framework == "torch":
        import torch

        return torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
    if backend == "torch":
        import torch

        return torch.OutOfMemoryError("CUDA out of memory")
    return type("XlaRuntimeError", (RuntimeError,), {})("RESOURCE_EXHAUSTED: Out of memory allocating")


def conformance_facts(framework: str) -> dict:
    """What the adapter contract (bench.frameworks.base.Adapter) promises, observed for one framework on the CPU."""
    from dataclasses import fields

    from bench.errors import BenchError
    from bench.frameworks import base as base
    from bench.frameworks import framework as framework_record
    from bench.measure import calibration
    from bench.spec import layers

    facts = {
        "class": type(get_adapter(framework)).__mro__[1].__qualname__,
        "name": type(get_adapter(framework)).__qualname__,
        "registered_as": get_adapter(framework).name,
    }
    refused = {}
    for option in fields(Execution):
        if option.name in framework_record(framework).honoured:
            continue
        value = "naive" if option.name == "loader" else (2 if option.type in ("int", int) else True)
        execution = Execution(**{option.name: value})
        try:
            get_adapter(framework).setup("cpu", 1, 0, execution)
            refused[option.name] = None
        except BenchError as error:
            refused[option.name] = (str(error), get_adapter(framework).supports(execution))
    facts["refused"] = refused
    try:
        get_adapter(framework).check_device("cuda")
        facts["cuda_refusal"] = None
    except BenchError as error:
        facts["cuda_refusal"] = str(error)

    adapter = _adapter(framework)
    layer_list = registry.layers("airbench94", 10)
    model = adapter.build(layer_list, "airbench94")
    facts["counts"] = (adapter.count_params(model), layers.count_params(layer_list))
    dataset = cifar.synthetic(train=64, test=16, seed=5)
    recipe = get_recipe("baseline").with_overrides(batch_size=32)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(model, recipe, dataset.train_x, dataset.train_y, mean, std, 0)
    rates = np.array([1e-3, 5e-4])
    stats = adapter.train_epoch(model, state, np.arange(64), rates)
    facts["epoch"] = (stats.loss, stats.accuracy, stats.learning_rate)
    before = adapter.predict(model, state, dataset.test_x)
    snapshot = adapter.snapshot(model)
    adapter.train_epoch(model, state, np.arange(64), rates)
    trained = adapter.predict(model, state, dataset.test_x)
    adapter.restore(model, snapshot)
    facts["predict"] = (before.shape, str(before.dtype), before, trained, adapter.predict(model, state, dataset.test_x))
    exported = adapter.export_weights(model, layer_list)
    twin = adapter.build(layer_list, "airbench94")
    adapter.load_weights(twin, layer_list, exported)
    inputs = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    facts["export_roundtrip"] = (
        adapter.logits(model, inputs),
        adapter.logits(twin, inputs),
        {name: {k: v.shape for k, v in tensors.items()} for name, tensors in exported.items()},
        layers.torch_tensor_shapes(layer_list),
    )
    backbone = {leaf.name for leaf, _ in layers.weighted_leaves(layer_list)} - {"head"}
    adapter.freeze(model, state, backbone)
    frozen = adapter.count_params(model)[0]
    adapter.freeze(model, state, set())
    facts["freeze"] = (frozen, adapter.count_params(model)[0])
    facts["settings"] = (sorted(adapter.settings(model)), list(base.SETTINGS))
    facts["memory"] = adapter.peak_device_memory()
    facts["oom"] = (
        adapter.is_oom(_typed_out_of_memory(framework)),
        adapter.is_oom(MemoryError()),
        adapter.is_oom(RuntimeError("out of memory")),
        adapter.is_oom(ValueError("bad shape")),
    )
    measured = calibration.measure(framework, "cpu", 1)  # last: it sets the adapter up again
    facts["calibration"] = (measured["matmul_s"], measured["conv_s"])
    return facts


def long_run(framework: str, recipe_name: str, best_epoch: int) -> dict:
    """A paper recipe over its whole epoch count, on 8 images at batch 4, through the trial's own loop
    (bench.run.trial.train) with scripted validation figures, the same in every framework: they improve until
    `best_epoch`, then stay flat, so the plateau reduces the learning rate and early stopping stops.

    Returns each epoch's learning rate as the optimizer reports it and as scheduled, the epoch the run stopped
    after, the epoch restored, and whether the weights after the restore are those of that epoch."""
    from bench.run import trial
    from bench.spec.config import TrialConfig
    from bench.spec.layers import Conv, Dense, Flatten, MaxPool, ReLU
    from bench.spec.recipes import learning_rate_at

    recipe = get_recipe(recipe_name).with_overrides(batch_size=4)
    adapter = _adapter(framework)
    layer_list = [Conv("conv1", 4), ReLU(), MaxPool(4), Flatten(), Dense("fc", 10)]  # the recipe is the subject
    built = trial.Built(layer_list, adapter.build(layer_list, "tiny"), None, set(), set(), None)
    dataset = cifar.synthetic(train=8, test=8, seed=5)
    mean, std = cifar.NORMALISATION["cifar10"]
    state = adapter.prepare(
        built.model,
        recipe,
        dataset.train_x,
        dataset.train_y,
        mean,
        std,
        0,
        recipe.class_weight_vector(dataset.class_names),
    )
    splits = cifar.Splits(dataset, dataset.train_x, dataset.train_y, dataset.test_x[:2], dataset.test_y[:2], None, None)
    epoch = iter(range(1, recipe.epochs + 1))

    def scripted(*_) -> dict:
        progress = min(next(epoch), best_epoch)
        return {"val_loss": 2.0 - 0.1 * progress, "val_accuracy": 0.1 + 0.05 * progress, "eval_time_s": 0.0}

    at_best = {}

    def emit(event: dict) -> None:
        if event["epoch"] == best_epoch:
            at_best.update(adapter.export_weights(built.model, layer_list))

    config = TrialConfig(
        model="tiny", framework=framework, device="cpu", batch_size=4, seed=0, epochs=recipe.epochs, recipe=recipe_name
    )
    loop = trial.train(config, recipe, adapter, built, state, splits, emit, validation=scripted)
    epochs = loop.epochs
    restored = loop.restored_epoch
    after = adapter.export_weights(built.model, layer_list)
    # The rate each epoch should end on, from the recipe alone: the schedule's (bench.spec.recipes, tested against
    # its definitions), times the plateau's factor once per `patience` flat epochs after `best_epoch`.
    plateau, scheduled = recipe.plateau, []
    for record in epochs:
        flat_before = record["epoch"] - 1 - best_epoch
        scale = plateau.factor ** (max(flat_before, 0) // plateau.patience) if plateau else 1.0
        scheduled.append(learning_rate_at(recipe, 2 * record["epoch"] - 1, record["epoch"] - 1, scale, 2))
    same = restored is not None and all(
        np.array_equal(after[layer][name], tensor)
        for layer, tensors in at_best.items()
        for name, tensor in tensors.items()
    )
    return {
        "rates": [record["learning_rate"] for record in epochs],
        "scheduled": scheduled,
        "stopped_after": len(epochs),
        "restored": restored,
        "restored_weights_equal": same,
    }


def trial_starting_weights(framework: str, model: str) -> dict:
    """The weights a trial of `model` starts from (bench.run.trial.build, init native), in torch's layout."""
    from bench.run.trial import build
    from bench.spec.config import TrialConfig

    adapter = _adapter(framework)
    config = TrialConfig(model=model, framework=framework, device="cpu", batch_size=8, seed=0, epochs=1)
    images = np.zeros((8, 32, 32, 3), np.uint8)
    built = build(config, get_recipe("baseline"), adapter, 10, images, (0.5,) * 3, (0.25,) * 3)
    return {"weights": adapter.export_weights(built.model, built.layer_list), "record": built.initialisation}


def _prepared_on_16_images(framework: str, model_name: str, execution: Execution = Execution()) -> tuple:
    """(adapter, model, training state, dataset) of `model_name` on 16 synthetic images at batch 8, untrained."""
    adapter = _adapter(framework, execution=execution)
    model = adapter.build(registry.layers(model_name, 10), model_name)
    dataset = cifar.synthetic(train=16, test=8, seed=3)
    recipe = get_recipe("baseline").with_overrides(batch_size=8)
    mean, std = cifar.NORMALISATION["cifar10"]
    return adapter, model, adapter.prepare(model, recipe, dataset.train_x, dataset.train_y, mean, std, 0), dataset


def options_in_force(framework: str, execution: Execution) -> dict:
    """What one training epoch of r2_vanilla_cnn under `execution` observably did: the dtype of the first conv's
    output and the memory format of its input, weights and output (seen by a forward hook in torch; in keras, the
    layer's output when called), the memory format the adapter records, and how many times torch's fused Adam
    kernel ran."""
    adapter, model, state, dataset = _prepared_on_16_images(framework, "r2_vanilla_cnn", execution)
    if framework == "keras":
        import keras

        adapter.train_epoch(model, state, np.arange(16), constant_rates(16, state.recipe))
        conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
        output = keras.Model(model.inputs, conv.output)(dataset.train_x[:2].astype("float32"))
        return {"conv_output_dtype": keras.backend.standardize_dtype(output.dtype)}
    from unittest import mock

    import torch

    seen, fused_calls = {}, []
    conv = next(module for module in model.modules() if isinstance(module, torch.nn.Conv2d))

    def hook(module, inputs, output):
        seen["conv_input_channels_last"] = inputs[0].is_contiguous(memory_format=torch.channels_last)
        seen["conv_weight_channels_last"] = module.weight.is_contiguous(memory_format=torch.channels_last)
        seen["conv_output_channels_last"] = output.is_contiguous(memory_format=torch.channels_last)
        seen["conv_output_dtype"] = str(output.dtype).removeprefix("torch.")

    conv.register_forward_hook(hook)
    fused = torch._fused_adam_
    with mock.patch.object(torch, "_fused_adam_", lambda *a, **k: fused_calls.append(1) or fused(*a, **k)):
        adapter.train_epoch(model, state, np.arange(16), constant_rates(16, state.recipe))
    return {**seen, "fused_adam_calls": len(fused_calls), "recorded_format": adapter.settings(model)["memory_format"]}


def compiled_graphs_run(framework: str) -> int:
    """How many graphs torch.compile made and ran for one training epoch of r2_vanilla_cnn with --compile."""
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    adapter, model, state, _ = _prepared_on_16_images(framework, "r2_vanilla_cnn", Execution(compile="default"))
    adapter.train_epoch(model, state, np.arange(16), constant_rates(16, state.recipe))
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def served_and_predicted(framework: str) -> tuple[np.ndarray, np.ndarray]:
    """The logits of 4 images by the serving path (`serve`) and by the scoring path (`predict`), after one
    training epoch of r2_tuned_cnn (BatchNorm and dropout: both must run in inference mode)."""
    adapter, model, state, dataset = _prepared_on_16_images(framework, "r2_tuned_cnn")
    adapter.train_epoch(model, state, np.arange(16), constant_rates(16, state.recipe))
    return adapter.serve(model, state, dataset.test_x[:4]), adapter.predict(model, state, dataset.test_x)[:4]


def airbench_after_training(framework: str) -> dict:
    """An airbench94 trial's model (bench.run.trial.build and .prepare), trained one epoch on 64 images: its
    first conv's weights against the whitening computed here from the same images, before and after; and the
    test loss the trial scores against the loss of the weighted views computed here, and of the plain images."""
    from bench.measure import metrics
    from bench.run import trial, tta, whitening
    from bench.spec.config import TrialConfig

    adapter = _adapter(framework)
    config = TrialConfig(
        model="airbench94", framework=framework, device="cpu", batch_size=32, seed=0, epochs=1, recipe="airbench94"
    )
    recipe = config.resolved_recipe()
    dataset = cifar.synthetic(train=64, test=16, seed=4)
    mean, std = cifar.normalisation(dataset)
    built = trial.build(config, recipe, adapter, 10, dataset.train_x, mean, std)
    first = whitening.first_conv(built.layer_list)
    expected = whitening.whitening_weights(first, dataset.train_x, mean, std)["weight"]
    splits = cifar.Splits(dataset, dataset.train_x, dataset.train_y, None, None, dataset.test_x, dataset.test_y)
    state = trial.prepare(adapter, built, recipe, splits, (mean, std), 0)
    before = adapter.export_weights(built.model, built.layer_list)[first.name]["weight"]
    adapter.train_epoch(built.model, state, np.arange(64), constant_rates(64, recipe))
    after = adapter.export_weights(built.model, built.layer_list)[first.name]["weight"]
    scores, _ = trial.score_test(config, recipe, adapter, built, state, splits)
    views = tta.views(dataset.test_x, recipe.test_time_augmentation)
    weighted = sum(w * adapter.predict(built.model, state, np.ascontiguousarray(v)) for w, v in views)
    plain = adapter.predict(built.model, state, dataset.test_x)
    return {
        "expected": expected,
        "before": before,
        "after": after,
        "scored_loss": scores["loss"],
        "views_loss": metrics.cross_entropy(weighted, dataset.test_y),
        "plain_loss": metrics.cross_entropy(plain, dataset.test_y),
    }
