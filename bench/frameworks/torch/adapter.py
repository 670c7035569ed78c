"""The PyTorch adapter: builds, trains and scores a spec'd model with data resident on the device as uint8;
options for mixed precision, channels-last, torch.compile (CUDA graphs), fused optimizers and cuDNN autotuning,
and the `naive` loader (DataLoader over per-image PIL transforms) that the papers used.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.errors import BenchError
from bench.frameworks import base
from bench.frameworks.base import EVAL_BATCH_SIZE, EpochStats, Execution
from bench.frameworks.torch.network import export_weights, import_weights, kernel_penalties, network, output_classes
from bench.frameworks.torch.runtime import set_torch_threads, strict_float32, tf32_allowed
from bench.frameworks.torch.training import (
    TrainState,
    augment,
    make_optimizer,
    mixup,
    naive_loader,
    photometric,
    recipe_loss,
)
from bench.spec import layers as L
from bench.spec.recipes import Recipe

CHECKPOINT_FILE = "torch-training-state.pt"  # in a trial's checkpoint folder (bench.run.checkpoints)


@base.register
class TorchAdapter(base.Adapter):
    name = "torch"

    def check_device(self, device: str) -> None:
        if device == "cuda" and not torch.cuda.is_available():
            raise BenchError(
                "--device cuda: torch sees no GPU; install a CUDA build of torch "
                "(pip install 'cnnbench[gpu]') and check the NVIDIA driver (nvidia-smi)"
            )

    def setup(self, device: str, threads: int, seed: int, execution: Execution = Execution()) -> None:
        if reason := self.supports(execution):
            raise BenchError(reason)
        self.check_device(device)
        set_torch_threads(threads)
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.execution = execution
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(execution.amp)
        strict_float32()
        torch.backends.cudnn.benchmark = execution.cudnn_benchmark  # off: no autotuning, as on the keras side
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def build(self, layer_list: list, name: str, input_shape: tuple = L.INPUT_SHAPE) -> nn.Module:
        model = network(layer_list, input_shape).to(self.device)
        return model.to(memory_format=torch.channels_last) if self.execution.channels_last else model

    def load_weights(self, model, layer_list: list, weights: dict) -> None:
        import_weights(model, weights)

    def export_weights(self, model, layer_list: list) -> dict:
        return export_weights(model)

    @torch.no_grad()
    def logits(self, model: nn.Module, inputs: np.ndarray) -> np.ndarray:
        model.eval()
        return model(self._layout(torch.from_numpy(inputs).to(self.device).permute(0, 3, 1, 2))).float().cpu().numpy()

    def initialise(self, model: nn.Module, scheme: str, seed: int) -> None:
        """Re-initialise convolutions and dense layers: 'keras' = glorot-uniform weights, zero biases
        (torch's own default, kaiming-uniform(a=sqrt 5) and uniform biases, is 'torch')."""
        if scheme != "keras":
            return
        torch.manual_seed(seed)
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def freeze(self, model: nn.Module, state: TrainState, names: set[str]) -> None:
        """Freeze the layers named (no gradients; BatchNorm on its running statistics, as keras does for a
        frozen BatchNorm) and unfreeze the others, with a fresh optimizer for the new phase."""
        state.frozen_norms = []
        for module in model.modules():
            if hasattr(module, "ir_name"):
                module.requires_grad_(module.ir_name not in names)
                if module.ir_name in names and isinstance(module, nn.modules.batchnorm._BatchNorm):
                    state.frozen_norms.append(module)
        state.optimizer = make_optimizer(model, state.recipe, self.execution.fused_optimizer)

    def count_params(self, model: nn.Module) -> tuple[int, int]:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        # BatchNorm running statistics; the step counter has no keras twin and is left out.
        stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
        return trainable, frozen + stats

    def prepare(
        self, model, recipe: Recipe, train_x, train_y, mean, std, seed: int, class_weights: list[float] | None = None
    ) -> TrainState:
        generator = torch.Generator(device=self.device).manual_seed(seed)
        weights = torch.tensor(class_weights, device=self.device) if class_weights else None
        # Static shapes: the last partial batch and the evaluation batches get graphs of their own, rather
        # than one recompilation with a dynamic batch dimension (slower to compile, often slower to run).
        compiled = (
            model
            if self.execution.compile == "off"
            else torch.compile(model, mode=self.execution.compile, dynamic=False)
        )
        scaler = torch.amp.GradScaler(self.device.type) if self.execution.amp == "fp16" else None
        return TrainState(
            make_optimizer(model, recipe, self.execution.fused_optimizer),
            torch.from_numpy(train_x).to(self.device),
            torch.from_numpy(train_y).to(self.device),
            torch.tensor(mean, device=self.device),
            torch.tensor(std, device=self.device),
            recipe,
            generator,
            kernel_penalties(model),
            weights,
            output_classes(model),
            np.random.default_rng(seed),
            compiled,
            scaler,
            train_x,
            train_y,
        )

    def _to_input(self, images: torch.Tensor, state: TrainState, train: bool = False) -> torch.Tensor:
        pixels = images.float() / 255.0
        if train:
            pixels = photometric(pixels, state.recipe.jitter, state.recipe.rotation, state.generator)
        return self._layout(((pixels - state.mean) / state.std).permute(0, 3, 1, 2))

    def _layout(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.contiguous(memory_format=torch.channels_last) if self.execution.channels_last else inputs

    def _fast_batches(self, state: TrainState, order: np.ndarray):
        """Device-resident uint8 data, augmented a batch at a time on the device."""
        recipe = state.recipe
        order_t = torch.from_numpy(order).to(self.device)
        for start in range(0, len(order), recipe.batch_size):
            index = order_t[start : start + recipe.batch_size]
            images = state.train_x[index]
            if recipe.augment:
                padding = recipe.crop_padding if "crop" in recipe.augment else 0
                images = augment(images, padding, "flip" in recipe.augment, state.generator)
            yield self._to_input(images, state, train=True), state.train_y[index]

    def _naive_batches(self, state: TrainState, order: np.ndarray):
        """What the papers did: a DataLoader over per-image PIL transforms, float32, copied per batch."""
        loader = naive_loader(
            state.host_x,
            state.host_y,
            order,
            state.recipe,
            state.mean.tolist(),
            state.std.tolist(),
            pin_memory=self.device.type == "cuda",
        )
        for images, labels in loader:
            yield (self._layout(images.to(self.device, non_blocking=True)), labels.to(self.device, non_blocking=True))

    def train_epoch(self, model, state: TrainState, order: np.ndarray, learning_rates: np.ndarray) -> EpochStats:
        model.train()
        for norm in state.frozen_norms:
            norm.eval()
        recipe = state.recipe
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        # The loss and accuracy add up on the device: nothing inside the epoch waits for the device (a host
        # sync). The trial reads the epoch's loss once at its end, and a NaN/inf there marks it diverged.
        batches = self._naive_batches if self.execution.loader == "naive" else self._fast_batches
        for step, (inputs, labels) in enumerate(batches(state, order)):
            targets = F.one_hot(labels, state.num_classes).float()
            if recipe.mixup_alpha:
                inputs, targets = mixup(
                    inputs, targets, state.mixup_rng.beta(recipe.mixup_alpha, recipe.mixup_alpha), state.generator
                )
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                logits = state.forward(inputs)
            loss = recipe_loss(logits.float(), targets, recipe, state.class_weights)
            for kernel, l2 in state.penalties:
                loss = loss + l2 * kernel.square().sum()
            for group in state.optimizer.param_groups:
                group["lr"] = float(learning_rates[step])
            state.optimizer.zero_grad(set_to_none=True)
            self._backward_and_step(model, state, loss)
            loss_sum += loss.detach() * len(labels)
            correct += (logits.argmax(1) == labels).sum()
        return EpochStats(
            loss=loss_sum.item() / len(order),
            accuracy=correct.item() / len(order),
            learning_rate=state.optimizer.param_groups[0]["lr"],
        )

    def _backward_and_step(self, model, state: TrainState, loss: torch.Tensor) -> None:
        """Backward pass, optional clipping and the optimizer step (with fp16 loss scaling when on)."""
        scaler, clip = state.scaler, state.recipe.clip_norm
        if scaler is None:
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            state.optimizer.step()
            return
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(state.optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(state.optimizer)
        scaler.update()

    def snapshot(self, model: nn.Module) -> dict:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    def restore(self, model: nn.Module, snapshot: dict) -> None:
        model.load_state_dict(snapshot)

    def save_checkpoint(self, model, state: TrainState, folder, best_weights) -> None:
        """One torch.save file: state_dicts, the generators' states (augmentation's, the global one dropout
        draws from, mixup's) and early stopping's best weights."""
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": state.optimizer.state_dict(),
                "scaler": state.scaler.state_dict() if state.scaler else None,
                "generator": state.generator.get_state(),
                "global_generator": torch.get_rng_state(),
                "cuda_generator": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "mixup_rng": state.mixup_rng.bit_generator.state,
                "best_weights": best_weights,
            },
            folder / CHECKPOINT_FILE,
        )

    def load_checkpoint(self, model, state: TrainState, folder):
        saved = torch.load(folder / CHECKPOINT_FILE, map_location=self.device, weights_only=True)
        model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        if state.scaler:
            state.scaler.load_state_dict(saved["scaler"])
        state.generator.set_state(saved["generator"].cpu())
        torch.set_rng_state(saved["global_generator"].cpu())
        if saved["cuda_generator"] is not None:
            torch.cuda.set_rng_state(saved["cuda_generator"].cpu(), self.device)
        state.mixup_rng.bit_generator.state = saved["mixup_rng"]
        return saved["best_weights"]

    @torch.no_grad()
    def predict(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        model.eval()
        outputs = []
        for start in range(0, len(images), EVAL_BATCH_SIZE):
            batch = torch.from_numpy(images[start : start + EVAL_BATCH_SIZE]).to(self.device)
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                outputs.append(state.forward(self._to_input(batch, state)).float().cpu())
        return torch.cat(outputs).numpy()

    @torch.no_grad()  # as `predict`: a compiled forward keeps its graphs (inference_mode would retrace them)
    def serve(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        model.eval()
        batch = torch.from_numpy(images).to(self.device)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            return state.forward(self._to_input(batch, state)).float().cpu().numpy()

    def serving_path(self) -> str:
        compiled = "eager" if self.execution.compile == "off" else f"torch.compile mode={self.execution.compile}"
        return f"torch no_grad, {compiled}"

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def settings(self, model) -> dict:
        cuda = self.device.type == "cuda"
        return {
            "backend": None,
            "device_name": torch.cuda.get_device_name(self.device) if cuda else None,
            "cuda_version": torch.version.cuda if cuda else None,
            "threads_intra_op": torch.get_num_threads(),
            "threads_inter_op": torch.get_num_interop_threads(),
            "tf32_matmul": tf32_allowed(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "fused_optimizer": self.execution.fused_optimizer,
            "steps_per_execution": None,
            "compile": self.execution.compile
            if self.execution.compile == "off"
            else f"{self.execution.compile}, dynamic=False",
            "precision": {"bf16": "bfloat16", "fp16": "float16"}.get(self.execution.amp, "float32"),
            "memory_format": self._memory_format(),
            "loader": self.execution.loader,
        }

    def _memory_format(self) -> str:
        """The layout the convolutions compute in. The fast loader's images are NHWC on the device, permuted to
        NCHW's shape with NHWC's strides: a conv given such an input computes and returns channels-last (so every
        later layer does), whatever its weights' layout. The naive loader's batches are NCHW-contiguous."""
        if self.execution.channels_last:
            return "channels_last"
        if self.execution.loader == "naive":
            return "channels_first"
        return "channels_last activations, channels_first weights"

    def is_oom(self, error: BaseException) -> bool:
        return isinstance(error, (MemoryError, torch.OutOfMemoryError))

    def calibration_workload(self, matmul_size: int, conv_shape: tuple):
        batch, channels, height, width = conv_shape
        a = torch.randn(matmul_size, matmul_size, device=self.device)
        x = torch.randn(batch, channels, height, width, device=self.device)
        kernel = torch.randn(channels, channels, 3, 3, device=self.device)
        return (lambda: a @ a), (lambda: F.conv2d(x, kernel, padding=1))

    def peak_device_memory(self) -> dict:
        if self.device.type != "cuda":
            return {"peak_device_bytes": None, "peak_device_measures": None}
        return {
            "peak_device_bytes": torch.cuda.max_memory_allocated(self.device),
            "peak_device_measures": "torch.cuda.max_memory_allocated (tensors only, not the "
            "caching allocator's reserve)",
        }
