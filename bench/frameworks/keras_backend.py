"""Keras 3 adapter, backend-agnostic (TensorFlow by default; KERAS_BACKEND is respected).

Models are keras functional models built from the spec's layer list with the same layer names as
torch. Augmentation is done with keras.ops over the whole epoch in one vectorised gather,
then `model.fit` runs one epoch over the prepared batches in the order the harness chose. Every
operand is a backend tensor, never a numpy array: numpy would copy a torch tensor to the host
(and fails for one on a GPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import keras
from keras import ops

from bench.spec import layers as L
from bench.frameworks import base, numerics
from bench.frameworks.base import EVAL_BATCH_SIZE, EpochStats, Execution
from bench.errors import BenchError
from bench.spec.recipes import Recipe

# What makes each keras backend see a GPU, named when a cuda trial's backend sees none.
GPU_FIX = {
    "tensorflow": "tensorflow-cpu has no GPU support: pip install 'cnnbench[gpu]' and set KERAS_BACKEND=jax "
                  "(or pip install 'tensorflow[and-cuda]')",
    "jax": "this jax is CPU-only: pip install 'cnnbench[gpu]' (jax[cuda12])",
    "torch": "this torch has no CUDA: pip install 'cnnbench[gpu]' (a CUDA build of torch)",
}


def gpu_count() -> int:
    """GPUs the current keras backend can compute on (imports that backend)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return sum(device.platform == "gpu" for device in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.device_count()
    return 0


def _l2(layer):
    return keras.regularizers.L2(layer.l2) if layer.l2 else None


def _leaf(layer, shape: L.Shape) -> list:
    """The keras layers that compute one spec layer (padding made explicit where keras differs)."""
    if isinstance(layer, L.Conv):
        same = layer.stride == 1 and layer.pad == layer.kernel // 2 and layer.kernel % 2 == 1
        padding = [] if same or not layer.pad else [keras.layers.ZeroPadding2D(layer.pad)]
        kwargs = dict(strides=layer.stride, padding="same" if same else "valid", use_bias=layer.bias,
                      name=layer.name)
        if layer.depthwise:
            return padding + [keras.layers.DepthwiseConv2D(layer.kernel, depthwise_regularizer=_l2(layer),
                                                           **kwargs)]
        return padding + [keras.layers.Conv2D(layer.filters, layer.kernel, kernel_regularizer=_l2(layer),
                                              **kwargs)]
    if isinstance(layer, L.BatchNorm):
        return [keras.layers.BatchNormalization(epsilon=L.BN_EPSILON, momentum=1.0 - L.BN_MOMENTUM_TORCH,
                                                name=layer.name)]
    if isinstance(layer, L.Dense):
        return [keras.layers.Dense(layer.units, use_bias=layer.bias, kernel_regularizer=_l2(layer),
                                   name=layer.name)]
    if isinstance(layer, L.Activation):
        return [keras.layers.Activation(layer.kind)]
    if isinstance(layer, L.MaxPool):
        stride = layer.stride or layer.size
        # Extra bottom/right padding reproduces torch's ceil_mode; zeros equal -inf after a ReLU.
        extra = [(out - 1) * stride + layer.size - (n + 2 * layer.padding)
                 for out, n in zip(L.output_shape(layer, shape)[:2], shape[:2])]
        pads = ((layer.padding, layer.padding + max(extra[0], 0)), (layer.padding, layer.padding + max(extra[1], 0)))
        padding = [keras.layers.ZeroPadding2D(pads)] if any(map(any, pads)) else []
        return padding + [keras.layers.MaxPooling2D(layer.size, stride, padding="valid")]
    if isinstance(layer, L.GlobalAvgPool):
        return [keras.layers.GlobalAveragePooling2D(keepdims=layer.keepdims)]
    if isinstance(layer, L.AdaptiveAvgPool):
        height = shape[0]
        if height == layer.size:
            return []
        if height < layer.size:  # every output cell averages exactly one input cell
            return [keras.layers.UpSampling2D(layer.size // height, interpolation="nearest")]
        return [keras.layers.AveragePooling2D(height // layer.size)]
    if isinstance(layer, L.Resize):
        return [keras.layers.Resizing(layer.size, layer.size, interpolation="bilinear")]
    if isinstance(layer, L.Dropout):
        return [keras.layers.Dropout(layer.rate)]
    if isinstance(layer, L.Scale):
        return [keras.layers.Rescaling(layer.factor)]
    if isinstance(layer, L.Flatten):
        return [keras.layers.Flatten()]
    raise TypeError(f"no keras layer for {layer!r}")


def _apply(layer_list: list, x, shape: L.Shape):
    for layer in layer_list:
        if isinstance(layer, L.Residual):
            total = keras.layers.Add(name=f"{layer.name}_add")(
                [_apply(layer.body, x, shape), _apply(layer.shortcut, x, shape)])
            x = keras.layers.Activation(layer.activation)(total) if layer.activation else total
        elif isinstance(layer, L.Concat):
            x = keras.layers.Concatenate(name=f"{layer.name}_concat")(
                [_apply(branch, x, shape) for branch in layer.branches])
        elif isinstance(layer, L.Gate):
            x = keras.layers.Multiply(name=f"{layer.name}_gate")([x, _apply(layer.body, x, shape)])
        else:
            for keras_layer in _leaf(layer, shape):
                x = keras_layer(x)
        shape = L.network_shape([layer], shape)
    return x


def network(layer_list: list, name: str) -> keras.Model:
    """Build a keras functional model from a framework-neutral layer list; layer names follow the spec."""
    inputs = keras.Input(L.INPUT_SHAPE)
    return keras.Model(inputs, _apply(layer_list, inputs, L.INPUT_SHAPE), name=name)


def load_torch_weights(model: keras.Model, layer_list: list, weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Copy weights exported by the torch side (bench.frameworks.torch_backend.export_weights) by name;
    layers absent from `weights` keep their initialisation.

    Conv kernels go from OIHW to HWIO (depthwise: C1HW to HWC1), dense matrices are transposed,
    and a dense layer fed by a Flatten has its input rows reordered from torch's CHW to keras's HWC.
    """
    flattened = L.flattened_from(layer_list)
    for layer, _ in L.weighted_leaves(layer_list):
        if layer.name not in weights:
            continue  # left as initialised (e.g. a new classification head)
        tensors = weights[layer.name]
        target = model.get_layer(layer.name)
        if isinstance(layer, L.Conv):
            kernel = tensors["weight"].transpose(2, 3, 0, 1) if layer.depthwise else tensors["weight"].transpose(2, 3, 1, 0)
            values = [kernel] + ([tensors["bias"]] if layer.bias else [])
        elif isinstance(layer, L.Dense):
            matrix = tensors["weight"]
            if layer.name in flattened:
                height, width, channels = flattened[layer.name]
                matrix = matrix.reshape(-1, channels, height, width).transpose(0, 2, 3, 1).reshape(len(matrix), -1)
            values = [matrix.T] + ([tensors["bias"]] if layer.bias else [])
        else:
            values = [tensors["weight"], tensors["bias"], tensors["running_mean"], tensors["running_var"]]
        target.set_weights(values)


def export_torch_weights(model: keras.Model, layer_list: list) -> dict[str, dict[str, np.ndarray]]:
    """The inverse of load_torch_weights: every weighted layer's tensors in torch's layout, by name."""
    flattened = L.flattened_from(layer_list)
    exported = {}
    for layer, _ in L.weighted_leaves(layer_list):
        values = [np.array(w) for w in model.get_layer(layer.name).get_weights()]
        if isinstance(layer, L.Conv):
            tensors = {"weight": values[0].transpose(2, 3, 0, 1) if layer.depthwise else values[0].transpose(3, 2, 0, 1)}
        elif isinstance(layer, L.Dense):
            matrix = values[0].T
            if layer.name in flattened:
                height, width, channels = flattened[layer.name]
                matrix = matrix.reshape(-1, height, width, channels).transpose(0, 3, 1, 2).reshape(len(matrix), -1)
            tensors = {"weight": matrix}
        else:
            tensors = dict(zip(("weight", "bias", "running_mean", "running_var"), values))
        if isinstance(layer, (L.Conv, L.Dense)) and layer.bias:
            tensors["bias"] = values[1]
        exported[layer.name] = {name: np.ascontiguousarray(value) for name, value in tensors.items()}
    return exported


def augment(images, padding: int, flip: bool, seed: keras.random.SeedGenerator):
    """Random crop after zero padding and random horizontal flip of uint8 NHWC images, in one gather."""
    count, height, width, channels = images.shape
    padded = ops.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]])
    padded_height, padded_width = height + 2 * padding, width + 2 * padding
    top = keras.random.randint((count, 1), 0, 2 * padding + 1, seed=seed)
    left = keras.random.randint((count, 1), 0, 2 * padding + 1, seed=seed)
    rows = top + ops.arange(height)[None, :]
    columns = ops.broadcast_to(ops.arange(width)[None, :], (count, width))
    if flip:
        flipped = keras.random.uniform((count, 1), seed=seed) < 0.5
        columns = ops.where(flipped, width - 1 - columns, columns)
    columns = left + columns
    batch = ops.arange(count)[:, None, None]
    flat = (batch * padded_height + rows[:, :, None]) * padded_width + columns[:, None, :]
    pixels = ops.take(ops.reshape(padded, (-1, channels)), ops.reshape(flat, (-1,)), axis=0)
    return ops.reshape(pixels, (count, height, width, channels))


class StepTable(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of every step of the current epoch, as the harness computed it
    (bench.run.control), so keras follows the same schedule as torch step by step."""

    def __init__(self, steps_per_epoch: int):
        self.steps_per_epoch = steps_per_epoch
        self.rates = keras.Variable(np.zeros(steps_per_epoch, "float32"), trainable=False, name="lr_table")
        self.first_step = keras.Variable(0, dtype="int32", trainable=False, name="lr_first_step")

    def set_epoch(self, rates: np.ndarray, first_step: int) -> None:
        self.rates.assign(rates.astype("float32"))
        self.first_step.assign(first_step)

    def __call__(self, step):
        index = ops.clip(ops.cast(step, "int32") - self.first_step, 0, self.steps_per_epoch - 1)
        return ops.take(self.rates, index)

    def get_config(self) -> dict:
        return {"steps_per_epoch": self.steps_per_epoch}


class CoupledWeightDecay:
    """torch's weight decay for a keras optimizer: grad + wd * w, after clipping (keras's own
    `weight_decay` is decoupled, AdamW-style)."""

    def __init__(self, *args, coupled_weight_decay: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.coupled_weight_decay = coupled_weight_decay

    def _decayed(self, gradient, variable):
        gradient = ops.cast(gradient, variable.dtype)
        if self.coupled_weight_decay:
            gradient = ops.add(gradient, ops.multiply(variable, self.coupled_weight_decay))
        return gradient


class TorchSGD(CoupledWeightDecay, keras.optimizers.SGD):
    """SGD with torch's momentum convention, buf = m * buf + g; w -= lr * buf, or with Nesterov
    w -= lr * (g + m * buf) (keras folds the learning rate into the buffer instead, which differs as
    soon as the rate changes)."""

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = self._decayed(gradient, variable)
        if self.momentum == 0:
            self.assign_sub(variable, ops.multiply(gradient, learning_rate))
            return
        buffer = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.momentum, variable.dtype)
        self.assign(buffer, ops.add(ops.multiply(buffer, momentum), gradient))
        step = ops.add(gradient, ops.multiply(buffer, momentum)) if self.nesterov else buffer
        self.assign_sub(variable, ops.multiply(step, learning_rate))


class TorchAdam(CoupledWeightDecay, keras.optimizers.Adam):
    """Adam with torch's epsilon convention: w -= lr * m_hat / (sqrt(v_hat) + eps). Keras adds
    epsilon to sqrt(v) before the bias correction, an effective epsilon 1 / sqrt(1 - beta2^t) times
    larger (about 30x at the first step), which shows on weights with tiny gradients."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = self._decayed(gradient, variable)
        step = ops.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        m_hat = ops.divide(m, 1 - ops.power(ops.cast(self.beta_1, variable.dtype), step))
        v_hat = ops.divide(v, 1 - ops.power(ops.cast(self.beta_2, variable.dtype), step))
        self.assign_sub(variable, ops.divide(ops.multiply(m_hat, lr), ops.add(ops.sqrt(v_hat), self.epsilon)))


def make_optimizer(recipe: Recipe, schedule: StepTable) -> keras.optimizers.Optimizer:
    """The recipe's optimizer, with torch's conventions (the harness's reference semantics)."""
    common = dict(global_clipnorm=recipe.clip_norm, coupled_weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adam":
        return TorchAdam(schedule, epsilon=recipe.adam_epsilon, **common)
    if recipe.optimizer == "sgd":
        return TorchSGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov, **common)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def recipe_loss(recipe: Recipe, class_weights: list[float] | None):
    """The recipe's loss (bench.frameworks.numerics.recipe_loss) as a keras loss function, in float32."""
    weights = ops.convert_to_tensor(np.array(class_weights, "float32")) if class_weights else None

    def loss(targets, logits):  # mixed precision: the loss in float32, as torch's
        return numerics.recipe_loss(ops, ops.cast(logits, "float32"), targets, recipe, weights)

    return loss


def photometric(pixels, jitter: float, degrees: float, seed: keras.random.SeedGenerator):
    """Colour jitter (brightness, contrast, saturation) and random rotation of NHWC images in [0, 1],
    the same transformations as the torch adapter's `photometric`."""
    count = ops.shape(pixels)[0]
    if jitter:
        uniform = lambda: keras.random.uniform((count, 1, 1, 1), seed=seed)  # noqa: E731
        pixels = numerics.colour_jitter(ops, pixels, jitter, uniform,
                                        ops.convert_to_tensor(np.array(numerics.GREY, "float32")))
    if degrees:
        angle = (keras.random.uniform((count,), seed=seed) * 2 - 1) * degrees * np.pi / 180
        cos, sin = ops.cos(angle), ops.sin(angle)
        height, width = pixels.shape[1], pixels.shape[2]
        centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
        # Output pixel (x, y) samples the input at the rotation of (x, y) about the centre.
        transform = ops.stack([cos, -sin, centre_x - cos * centre_x + sin * centre_y,
                               sin, cos, centre_y - sin * centre_x - cos * centre_y,
                               ops.zeros_like(angle), ops.zeros_like(angle)], axis=1)
        pixels = ops.image.affine_transform(pixels, transform, interpolation="bilinear", fill_mode="constant")
    return pixels


def mixup(inputs, targets, alpha: float, batch_size: int, seed: keras.random.SeedGenerator):
    """Mixup of a whole epoch at once, batch by batch as fit will see it: each batch is mixed with a
    random permutation of itself, with one lambda ~ Beta(alpha, alpha) per batch."""
    inputs, count = ops.cast(inputs, "float32"), ops.shape(inputs)[0]
    batch = ops.arange(count) // batch_size
    # Sorting random keys offset by batch index permutes within each batch only.
    keys = keras.random.uniform((count,), seed=seed) + ops.cast(batch, "float32") * 2.0
    partner = ops.argsort(keys)
    weights = ops.take(keras.random.beta(((count + batch_size - 1) // batch_size,), alpha, alpha, seed=seed), batch)
    mix = lambda a, w: w * a + (1 - w) * ops.take(a, partner, axis=0)  # noqa: E731
    return mix(inputs, ops.reshape(weights, (-1, 1, 1, 1))), mix(targets, ops.reshape(weights, (-1, 1)))


def with_input_normalisation(model: keras.Model, mean, std) -> keras.Model:
    """`model` behind the input normalisation, (pixel / 255 - mean) / std as one multiply-add in float32: pixel
    values (0-255) in, logits out. It runs inside the compiled step, a batch at a time, rather than as passes
    over the epoch's float images before `fit`. The weights are `model`'s own."""
    mean, std = np.array(mean, "float32"), np.array(std, "float32")
    inputs = keras.Input(L.INPUT_SHAPE)
    normalised = keras.layers.Rescaling(1 / (255 * std), -mean / std, dtype="float32", name="normalise")(inputs)
    return keras.Model(inputs, model(normalised), name=f"{model.name}_normalised")


@dataclass
class TrainState:
    train_x: np.ndarray  # uint8 NHWC
    train_y: np.ndarray
    trainer: keras.Model  # the model behind the input normalisation: what fit and predict run
    recipe: Recipe
    seed: keras.random.SeedGenerator
    schedule: StepTable
    num_classes: int
    class_weights: list[float] | None


@base.register
class Adapter(base.Adapter):
    name = "keras"

    def setup(self, device: str, threads: int, seed: int, execution: Execution = Execution()) -> None:
        if reason := self.supports(execution):
            raise BenchError(reason)
        self.check_device(device)
        self.device = device  # the runner hides GPUs from a cpu trial (CUDA_VISIBLE_DEVICES)
        self.execution = execution
        keras.config.set_dtype_policy({"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}.get(execution.amp,
                                                                                              "float32"))
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
            except RuntimeError:
                pass  # the runtime already started in this process; settings() records what is in force
            tf.config.experimental.enable_tensor_float_32_execution(False)  # as torch: strict float32
        elif backend == "torch":
            from bench.frameworks.torch_backend import set_torch_threads, strict_float32

            set_torch_threads(threads)
            strict_float32()
        elif backend == "jax":
            import jax

            jax.config.update("jax_default_matmul_precision", "highest")  # as torch: strict float32
        self.threads = threads
        keras.utils.set_random_seed(seed)

    def check_device(self, device: str) -> None:
        """A cuda trial must train on the GPU: refuse, naming the fix, when the backend sees none."""
        if device == "cuda" and not gpu_count():
            backend = keras.backend.backend()
            raise BenchError(f"--device cuda: keras's {backend} backend sees no GPU; "
                             f"{GPU_FIX.get(backend, 'install a GPU build of it')}")

    def build(self, layer_list: list, name: str) -> keras.Model:
        return network(layer_list, name.replace(":", "_").replace("=", "_").replace(",", "_"))

    def load_weights(self, model, layer_list: list, weights: dict) -> None:
        load_torch_weights(model, layer_list, weights)

    def export_weights(self, model, layer_list: list) -> dict:
        return export_torch_weights(model, layer_list)

    def logits(self, model: keras.Model, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(ops.convert_to_numpy(model(inputs, training=False)), dtype=np.float32)

    def initialise(self, model: keras.Model, scheme: str, seed: int) -> None:
        """Re-initialise convolutions and dense layers: 'torch' = torch's defaults, weights and biases
        uniform in +-1/sqrt(fan_in) (kaiming-uniform with a = sqrt 5); keras's own default
        (glorot-uniform weights, zero biases) is 'keras'."""
        if scheme != "torch":
            return
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
                kernel = layer.weights[0]
                fan_in = int(np.prod(kernel.shape[:-1])) if not isinstance(layer, keras.layers.DepthwiseConv2D) \
                    else int(np.prod(kernel.shape[:2]))
                bound = 1 / np.sqrt(fan_in)
                layer.set_weights([rng.uniform(-bound, bound, tuple(w.shape)).astype("float32")
                                   for w in layer.weights])

    def count_params(self, model: keras.Model) -> tuple[int, int]:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
        return trainable, frozen

    def prepare(self, model, recipe: Recipe, train_x, train_y, mean, std, seed: int,
                class_weights: list[float] | None = None) -> TrainState:
        steps = math.ceil(len(train_y) / recipe.batch_size)
        state = TrainState(train_x, train_y, with_input_normalisation(model, mean, std), recipe,
                           keras.random.SeedGenerator(seed), StepTable(steps), model.output_shape[-1], class_weights)
        self._compile(state)
        return state

    def _compile(self, state: TrainState) -> None:
        """The training step with a fresh optimizer: at the start, and when a fine-tuning phase begins."""
        state.trainer.compile(optimizer=make_optimizer(state.recipe, state.schedule),
                      loss=recipe_loss(state.recipe, state.class_weights),
                      metrics=["categorical_accuracy"],
                      # Never "auto" (XLA on GPUs only): compiled exactly when torch is.
                      jit_compile=self.execution.compile != "off",
                      steps_per_execution=self.execution.steps_per_execution)

    def freeze(self, model: keras.Model, state: TrainState, names: set[str]) -> None:
        """Freeze the layers named (a frozen BatchNorm runs on its running statistics) and unfreeze the
        others, with a fresh optimizer for the new phase."""
        for layer in model.layers:
            if layer.weights:
                layer.trainable = layer.name not in names
        self._compile(state)

    def _to_input(self, images, state: TrainState, train: bool = False):
        """Pixel values (0-255) for the trainer; uint8 as they are unless a photometric augmentation applies."""
        if not (train and (state.recipe.jitter or state.recipe.rotation)):
            return images
        pixels = ops.cast(images, "float32") / 255.0
        return photometric(pixels, state.recipe.jitter, state.recipe.rotation, state.seed) * 255.0

    def train_epoch(self, model, state: TrainState, order: np.ndarray, learning_rates: np.ndarray) -> EpochStats:
        recipe = state.recipe
        images = state.train_x[order]
        if recipe.augment:
            padding = recipe.crop_padding if "crop" in recipe.augment else 0
            images = augment(ops.convert_to_tensor(images), padding, "flip" in recipe.augment, state.seed)
        state.schedule.set_epoch(learning_rates, int(ops.convert_to_numpy(state.trainer.optimizer.iterations)))
        inputs = self._to_input(images, state, train=True)
        targets = ops.convert_to_tensor(np.eye(state.num_classes, dtype="float32")[state.train_y[order]])
        if recipe.mixup_alpha:
            inputs, targets = mixup(inputs, targets, recipe.mixup_alpha, recipe.batch_size, state.seed)
        # No batch-level callback: each would read the loss from the device (a host sync) after every step.
        # The trial reads the epoch's loss once at its end, and a NaN/inf there marks it diverged.
        history = state.trainer.fit(inputs, targets, batch_size=recipe.batch_size, epochs=1, shuffle=False, verbose=0)
        last_step = int(ops.convert_to_numpy(state.trainer.optimizer.iterations)) - 1
        return EpochStats(loss=float(history.history["loss"][-1]),
                          accuracy=float(history.history["categorical_accuracy"][-1]),
                          learning_rate=float(ops.convert_to_numpy(state.schedule(last_step))))

    def snapshot(self, model: keras.Model) -> list:
        return [np.array(w) for w in model.get_weights()]

    def restore(self, model: keras.Model, snapshot: list) -> None:
        model.set_weights(snapshot)

    def predict(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        logits = state.trainer.predict(self._to_input(images, state), batch_size=EVAL_BATCH_SIZE, verbose=0)
        return np.asarray(logits, dtype=np.float32)

    def synchronize(self) -> None:
        """Nothing to do: fit and predict return only after their last step's results exist."""

    def settings(self, model) -> dict:
        return {
            "backend": keras.backend.backend(),
            "device_name": self._device_name(),
            "cuda_version": None,
            **self._threads_in_force(),
            "tf32_matmul": self._tf32(),
            "cudnn_benchmark": None,
            "compile": f"jit_compile={self.execution.compile != 'off'}",
            "steps_per_execution": self.execution.steps_per_execution,
            "fused_optimizer": None,
            "precision": keras.config.dtype_policy().compute_dtype,  # float32 | bfloat16 | float16
            "memory_format": "channels_last",
            "loader": self.execution.loader,
        }

    def _threads_in_force(self) -> dict:
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return {"threads_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                    "threads_inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
        if backend == "torch":
            import torch

            return {"threads_intra_op": torch.get_num_threads(),
                    "threads_inter_op": torch.get_num_interop_threads()}
        return {"threads_intra_op": None, "threads_inter_op": None}  # jax: XLA's own pool

    def _device_name(self) -> str | None:
        if self.device != "cuda":
            return None
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            return tf.config.experimental.get_device_details(gpu).get("device_name")
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name()
        if backend == "jax":
            import jax

            return jax.devices()[0].device_kind
        return None

    def _tf32(self) -> bool | None:
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.tensor_float_32_execution_enabled()
        if backend == "torch":
            from bench.frameworks.torch_backend import tf32_allowed

            return tf32_allowed()
        if backend == "jax":
            import jax

            return jax.config.jax_default_matmul_precision not in ("highest", "float32")
        return None

    def is_oom(self, error: BaseException) -> bool:
        """By type: TensorFlow's ResourceExhaustedError, torch's OutOfMemoryError. JAX raises one type,
        XlaRuntimeError, for every runtime failure and names the status in its message, RESOURCE_EXHAUSTED."""
        if isinstance(error, MemoryError):
            return True
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return isinstance(error, tf.errors.ResourceExhaustedError)
        if backend == "torch":
            import torch

            return isinstance(error, torch.OutOfMemoryError)
        if backend == "jax":
            return type(error).__name__ == "XlaRuntimeError" and str(error).startswith("RESOURCE_EXHAUSTED")
        return False

    def peak_device_memory(self) -> dict:
        none = {"peak_device_bytes": None, "peak_device_measures": None}
        if self.device != "cuda":
            return none
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return {"peak_device_bytes": tf.config.experimental.get_memory_info("GPU:0")["peak"],
                    "peak_device_measures": "tf.config.experimental.get_memory_info peak (TF allocator)"}
        if backend == "torch":
            import torch

            return {"peak_device_bytes": torch.cuda.max_memory_allocated(),
                    "peak_device_measures": "torch.cuda.max_memory_allocated (tensors only)"}
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return {"peak_device_bytes": stats.get("peak_bytes_in_use"),
                    "peak_device_measures": "jax device memory_stats peak_bytes_in_use"}
        return none
