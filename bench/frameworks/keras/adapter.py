"""The Keras 3 adapter, backend-agnostic (TensorFlow by default; KERAS_BACKEND is respected).

The epoch's augmentation is done with keras.ops in one vectorised pass, then `model.fit` runs one epoch over
the prepared batches in the order the harness chose. Every operand is a backend tensor, never a numpy array:
numpy would copy a torch tensor to the host (and fails for one on a GPU).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from bench.errors import BenchError
from bench.frameworks import base
from bench.frameworks.base import EVAL_BATCH_SIZE, EpochStats, Execution
from bench.frameworks.keras.network import export_torch_weights, load_torch_weights, network, with_input_normalisation
from bench.frameworks.keras.optimizers import StepTable, make_optimizer
from bench.frameworks.keras.training import TrainState, augment, mixup, photometric, recipe_loss
from bench.spec import layers as L
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


# A trial's checkpoint folder (bench.run.checkpoints) holds these.
WEIGHTS_FILE = "keras.weights.h5"
GENERATORS_FILE = "keras-generators.npz"
BEST_FILE = "keras-best-weights.npz"


def _generator_states(state: TrainState) -> list:
    """The state variables of every random generator training draws from: the layers' own (dropout), which
    the weights file leaves out, then augmentation's."""
    weights = {id(weight) for weight in state.trainer.weights}
    return [v for v in state.trainer.variables if id(v) not in weights] + [state.seed.state]


def _arrays(path) -> list[np.ndarray]:
    """The arrays of an np.savez file, in the order they were saved."""
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


@base.register
class KerasAdapter(base.Adapter):
    name = "keras"

    def setup(self, device: str, threads: int, seed: int, execution: Execution = Execution()) -> None:
        if reason := self.supports(execution):
            raise BenchError(reason)
        self.check_device(device)
        self.device = device  # the runner hides GPUs from a cpu trial (CUDA_VISIBLE_DEVICES)
        self.execution = execution
        keras.config.set_dtype_policy({"bf16": "mixed_bfloat16", "fp16": "mixed_float16"}.get(execution.amp, "float32"))
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
            from bench.frameworks.torch.runtime import set_torch_threads, strict_float32

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
            raise BenchError(
                f"--device cuda: keras's {backend} backend sees no GPU; "
                f"{GPU_FIX.get(backend, 'install a GPU build of it')}"
            )

    def build(self, layer_list: list, name: str, input_shape: tuple = L.INPUT_SHAPE) -> keras.Model:
        return network(layer_list, name.replace(":", "_").replace("=", "_").replace(",", "_"), input_shape)

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
                fan_in = (
                    int(np.prod(kernel.shape[:-1]))
                    if not isinstance(layer, keras.layers.DepthwiseConv2D)
                    else int(np.prod(kernel.shape[:2]))
                )
                bound = 1 / np.sqrt(fan_in)
                layer.set_weights([rng.uniform(-bound, bound, tuple(w.shape)).astype("float32") for w in layer.weights])

    def count_params(self, model: keras.Model) -> tuple[int, int]:
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
        return trainable, frozen

    def prepare(
        self, model, recipe: Recipe, train_x, train_y, mean, std, seed: int, class_weights: list[float] | None = None
    ) -> TrainState:
        steps = math.ceil(len(train_y) / recipe.batch_size)
        state = TrainState(
            train_x,
            train_y,
            with_input_normalisation(model, mean, std),
            recipe,
            keras.random.SeedGenerator(seed),
            StepTable(steps),
            model.output_shape[-1],
            class_weights,
        )
        self._compile(state)
        return state

    def _compile(self, state: TrainState) -> None:
        """The training step with a fresh optimizer: at the start, and when a fine-tuning phase begins."""
        state.trainer.compile(
            optimizer=make_optimizer(state.recipe, state.schedule),
            loss=recipe_loss(state.recipe, state.class_weights),
            metrics=["categorical_accuracy"],
            # Never "auto" (XLA on GPUs only): compiled exactly when torch is.
            jit_compile=self.execution.compile != "off",
            steps_per_execution=self.execution.steps_per_execution,
        )

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
        return EpochStats(
            loss=float(history.history["loss"][-1]),
            accuracy=float(history.history["categorical_accuracy"][-1]),
            learning_rate=float(ops.convert_to_numpy(state.schedule(last_step))),
        )

    def snapshot(self, model: keras.Model) -> list:
        return [np.array(w) for w in model.get_weights()]

    def restore(self, model: keras.Model, snapshot: list) -> None:
        model.set_weights(snapshot)

    def save_checkpoint(self, model, state: TrainState, folder, best_weights) -> None:
        """Keras's weights file (the weights and the optimizer's variables, as BackupAndRestore keeps them), the
        random generators' states it leaves out (dropout's, augmentation's) and early stopping's best weights."""
        state.trainer.save_weights(folder / WEIGHTS_FILE)
        np.savez(folder / GENERATORS_FILE, *[ops.convert_to_numpy(v) for v in _generator_states(state)])
        if best_weights is not None:
            np.savez(folder / BEST_FILE, *best_weights)

    def load_checkpoint(self, model, state: TrainState, folder):
        state.trainer.optimizer.build(state.trainer.trainable_variables)  # else its saved variables are skipped
        state.trainer.load_weights(folder / WEIGHTS_FILE)
        for variable, value in zip(_generator_states(state), _arrays(folder / GENERATORS_FILE), strict=True):
            variable.assign(value)
        return _arrays(folder / BEST_FILE) if (folder / BEST_FILE).exists() else None

    def predict(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        logits = state.trainer.predict(self._to_input(images, state), batch_size=EVAL_BATCH_SIZE, verbose=0)
        return np.asarray(logits, dtype=np.float32)

    def serve(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        return np.asarray(state.trainer.predict_on_batch(self._to_input(images, state)), dtype=np.float32)

    def serving_path(self) -> str:
        return f"keras predict_on_batch, jit_compile={self.execution.compile != 'off'}"

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

            return {
                "threads_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "threads_inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            }
        if backend == "torch":
            import torch

            return {"threads_intra_op": torch.get_num_threads(), "threads_inter_op": torch.get_num_interop_threads()}
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
            from bench.frameworks.torch.runtime import tf32_allowed

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

    def calibration_workload(self, matmul_size: int, conv_shape: tuple):
        batch, channels, height, width = conv_shape
        rng = np.random.default_rng(0)
        a = ops.convert_to_tensor(rng.normal(size=(matmul_size, matmul_size)).astype("float32"))
        x = ops.convert_to_tensor(rng.normal(size=(batch, height, width, channels)).astype("float32"))
        kernel = ops.convert_to_tensor(rng.normal(size=(3, 3, channels, channels)).astype("float32"))
        # Reading a scalar back waits for the result (synchronize does nothing); the sum costs little next to the op.
        return (
            (lambda: float(ops.sum(ops.matmul(a, a)))),
            (lambda: float(ops.sum(ops.conv(x, kernel, padding="same")))),
        )

    def peak_device_memory(self) -> dict:
        none = {"peak_device_bytes": None, "peak_device_measures": None}
        if self.device != "cuda":
            return none
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return {
                "peak_device_bytes": tf.config.experimental.get_memory_info("GPU:0")["peak"],
                "peak_device_measures": "tf.config.experimental.get_memory_info peak (TF allocator)",
            }
        if backend == "torch":
            import torch

            return {
                "peak_device_bytes": torch.cuda.max_memory_allocated(),
                "peak_device_measures": "torch.cuda.max_memory_allocated (tensors only)",
            }
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return {
                "peak_device_bytes": stats.get("peak_bytes_in_use"),
                "peak_device_measures": "jax device memory_stats peak_bytes_in_use",
            }
        return none
