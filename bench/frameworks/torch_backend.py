"""PyTorch adapter: spec'd layers as nn.Sequential, data resident on the device as uint8,
augmentation as one batched gather (random crop with zero padding, horizontal flip) plus batched
colour jitter and rotation; options for mixed precision, channels-last and torch.compile; and
the `naive` loader (DataLoader over per-image PIL transforms) that the reports used.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.spec import layers as L
from bench.errors import BenchError
from bench.frameworks import base, numerics
from bench.frameworks.base import EVAL_BATCH_SIZE, EpochStats, Execution
from bench.spec.recipes import Recipe


ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


class Scale(nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Residual(nn.Module):
    def __init__(self, body: nn.Module, shortcut: nn.Module, activation: str | None):
        super().__init__()
        self.body, self.shortcut = body, shortcut
        self.activation = ACTIVATIONS[activation]() if activation else nn.Identity()

    def forward(self, x):
        return self.activation(self.body(x) + self.shortcut(x))


class Concat(nn.Module):
    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Gate(nn.Module):
    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x * self.body(x)


class GlobalAvgPool(nn.Module):
    def __init__(self, keepdims: bool):
        super().__init__()
        self.keepdims = keepdims

    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=self.keepdims)


def _leaf(layer, shape: L.Shape) -> nn.Module:
    channels = shape[-1]
    if isinstance(layer, L.Conv):
        return nn.Conv2d(channels, layer.filters, layer.kernel, layer.stride, layer.pad, bias=layer.bias,
                         groups=channels if layer.depthwise else 1)
    if isinstance(layer, L.BatchNorm):
        norm = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return norm(channels, eps=L.BN_EPSILON, momentum=L.BN_MOMENTUM_TORCH)
    if isinstance(layer, L.Dense):
        return nn.Linear(channels, layer.units, bias=layer.bias)
    if isinstance(layer, L.Activation):
        return ACTIVATIONS[layer.kind]()
    if isinstance(layer, L.MaxPool):
        return nn.MaxPool2d(layer.size, layer.stride or layer.size, layer.padding, ceil_mode=layer.ceil)
    if isinstance(layer, L.GlobalAvgPool):
        return GlobalAvgPool(layer.keepdims)
    if isinstance(layer, L.AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(layer.size)
    if isinstance(layer, L.Resize):
        return nn.Upsample(size=(layer.size, layer.size), mode="bilinear", align_corners=False)
    if isinstance(layer, L.Dropout):
        return nn.Dropout(layer.rate)
    if isinstance(layer, L.Scale):
        return Scale(layer.factor)
    if isinstance(layer, L.Flatten):
        return nn.Flatten()
    raise TypeError(f"no torch layer for {layer!r}")


def network(layer_list: list, shape: L.Shape = L.INPUT_SHAPE) -> nn.Sequential:
    """Build a torch model from a framework-neutral layer list; weighted modules carry `ir_name`."""
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    for index, layer in enumerate(layer_list):
        if isinstance(layer, L.Residual):
            module = Residual(network(layer.body, shape), network(layer.shortcut, shape), layer.activation)
        elif isinstance(layer, L.Concat):
            module = Concat([network(branch, shape) for branch in layer.branches])
        elif isinstance(layer, L.Gate):
            module = Gate(network(layer.body, shape))
        else:
            module = _leaf(layer, shape)
        name = getattr(layer, "name", None)
        if isinstance(layer, (L.Conv, L.Dense, L.BatchNorm)):
            module.ir_name = name
            module.ir_l2 = getattr(layer, "l2", 0.0)
        modules[name or f"{type(layer).__name__.lower()}{index}"] = module
        shape = L.network_shape([layer], shape)
    return nn.Sequential(modules)


def kernel_penalties(model: nn.Module) -> list[tuple[torch.Tensor, float]]:
    """The (kernel, l2) pairs of layers whose spec asks for an L2 penalty, as keras's L2 regulariser."""
    return [(m.weight, m.ir_l2) for m in model.modules() if getattr(m, "ir_l2", 0.0) > 0]


def import_weights(model: nn.Module, weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Load tensors by spec name (the format export_weights writes); layers not named are left alone."""
    with torch.no_grad():
        for module in model.modules():
            for tensor_name, value in weights.get(getattr(module, "ir_name", None), {}).items():
                getattr(module, tensor_name).copy_(torch.from_numpy(value))


def export_weights(model: nn.Module) -> dict[str, dict[str, np.ndarray]]:
    """Every weighted layer's tensors by spec name: weight, bias, running_mean, running_var."""
    exported = {}
    for module in model.modules():
        if hasattr(module, "ir_name"):
            tensors = {**dict(module.named_parameters(recurse=False)), **dict(module.named_buffers(recurse=False))}
            exported[module.ir_name] = {k: v.detach().cpu().numpy().copy() for k, v in tensors.items()
                                        if k != "num_batches_tracked"}
    return exported


def augment(images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip of a uint8 NHWC batch, in one gather."""
    count, height, width, _ = images.shape
    device = images.device
    padded = F.pad(images, (0, 0, padding, padding, padding, padding))
    span = torch.arange(height, device=device)
    top = torch.randint(0, 2 * padding + 1, (count, 1), generator=generator, device=device)
    left = torch.randint(0, 2 * padding + 1, (count, 1), generator=generator, device=device)
    columns = torch.arange(width, device=device).expand(count, width)
    if flip:
        flipped = torch.rand(count, 1, generator=generator, device=device) < 0.5
        columns = torch.where(flipped, width - 1 - columns, columns)
    batch = torch.arange(count, device=device)[:, None, None]
    return padded[batch, (top + span)[:, :, None], (left + columns)[:, None, :]]


def set_torch_threads(threads: int) -> None:
    """Intra- and inter-op threads; the inter-op pool can be sized only once per process."""
    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:
            pass  # already started in this process; settings() records the count in force


def strict_float32() -> None:
    """The fairness default of every framework here: float32 matmuls and convolutions in full float32
    (TF32 off; torch's cuDNN default allows it)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def tf32_allowed() -> bool:
    return torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32


def photometric(pixels: torch.Tensor, jitter: float, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter (brightness, contrast, saturation) and random rotation of NHWC images in [0, 1]."""
    count = pixels.shape[0]
    if jitter:
        uniform = lambda: torch.rand(count, 1, 1, 1, generator=generator, device=pixels.device)  # noqa: E731
        pixels = numerics.colour_jitter(TORCH_OPS, pixels, jitter, uniform,
                                        torch.tensor(numerics.GREY, device=pixels.device))
    if degrees:
        angle = (torch.rand(count, generator=generator, device=pixels.device) * 2 - 1) * degrees * torch.pi / 180
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        nchw = pixels.permute(0, 3, 1, 2)
        grid = F.affine_grid(theta, list(nchw.shape), align_corners=False)
        pixels = F.grid_sample(nchw, grid, mode="bilinear", padding_mode="zeros", align_corners=False).permute(0, 2, 3, 1)
    return pixels


def mixup(inputs: torch.Tensor, targets: torch.Tensor, weight: float,
          generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix a batch with a random permutation of itself: weight * a + (1 - weight) * b, images and targets."""
    permutation = torch.randperm(len(inputs), generator=generator, device=inputs.device)
    return (weight * inputs + (1 - weight) * inputs[permutation],
            weight * targets + (1 - weight) * targets[permutation])


def output_classes(model: nn.Module) -> int:
    """The width of the model's last weighted layer: its number of classes."""
    last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    return last.out_features if isinstance(last, nn.Linear) else last.out_channels


class PerImageDataset(torch.utils.data.Dataset):
    """CIFAR images as a torchvision-style dataset: one PIL image at a time through the transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def naive_loader(images: np.ndarray, labels: np.ndarray, order: np.ndarray, recipe: Recipe, mean: list,
                 std: list, pin_memory: bool) -> torch.utils.data.DataLoader:
    """The reports' input pipeline: torchvision transforms per image in DataLoader workers."""
    from torchvision import transforms

    steps = []
    if "crop" in recipe.augment:
        steps.append(transforms.RandomCrop(32, padding=recipe.crop_padding))
    if "flip" in recipe.augment:
        steps.append(transforms.RandomHorizontalFlip())
    if recipe.jitter:
        steps.append(transforms.ColorJitter(recipe.jitter, recipe.jitter, recipe.jitter))
    if recipe.rotation:
        steps.append(transforms.RandomRotation(recipe.rotation))
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    return torch.utils.data.DataLoader(PerImageDataset(images, labels, transforms.Compose(steps)),
                                       batch_size=recipe.batch_size, sampler=order.tolist(),
                                       num_workers=NAIVE_WORKERS, pin_memory=pin_memory)


NAIVE_WORKERS = 2  # DataLoader worker processes of the naive loader, as tutorials set it


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = False) -> torch.optim.Optimizer:
    """The recipe's optimizer; the learning rate is set before every step from the shared schedule.
    `fused`: one kernel updates every tensor (torch's default is a foreach loop over them)."""
    kernel = {"fused": True} if fused else {}
    if recipe.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=recipe.learning_rate, eps=recipe.adam_epsilon,
                                weight_decay=recipe.weight_decay, **kernel)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=recipe.momentum,
                               nesterov=recipe.nesterov, weight_decay=recipe.weight_decay, **kernel)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


class TORCH_OPS:  # noqa: N801  (a namespace, as keras.ops): the shared numerics' operations in torch
    sum = staticmethod(lambda x, axis, keepdims=False: x.sum(dim=axis, keepdim=keepdims))
    mean = staticmethod(lambda x, axis, keepdims=False: x.mean(dim=axis, keepdim=keepdims))
    exp = staticmethod(torch.exp)
    log_softmax = staticmethod(lambda x, axis: F.log_softmax(x, dim=axis))
    clip = staticmethod(torch.clamp)


def recipe_loss(logits: torch.Tensor, targets: torch.Tensor, recipe: Recipe,
                class_weights: torch.Tensor | None) -> torch.Tensor:
    """The recipe's loss (bench.frameworks.numerics.recipe_loss), averaged over the batch."""
    return numerics.recipe_loss(TORCH_OPS, logits, targets, recipe, class_weights).mean()


@dataclass
class TrainState:
    optimizer: torch.optim.Optimizer
    train_x: torch.Tensor  # uint8 NHWC on the device
    train_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    recipe: Recipe
    generator: torch.Generator
    penalties: list[tuple[torch.Tensor, float]]  # (kernel, l2) pairs of the spec's L2 penalty
    class_weights: torch.Tensor | None
    num_classes: int
    mixup_rng: np.random.Generator  # one Beta draw per batch
    forward: nn.Module  # the model, or its torch.compile wrapper
    scaler: torch.amp.GradScaler | None  # fp16 loss scaling
    host_x: np.ndarray  # uint8 NHWC on the host, for the naive loader
    host_y: np.ndarray
    frozen_norms: list = field(default_factory=list)  # BatchNorm layers kept on their running statistics


@base.register
class Adapter(base.Adapter):
    name = "torch"

    def check_device(self, device: str) -> None:
        if device == "cuda" and not torch.cuda.is_available():
            raise BenchError("--device cuda: torch sees no GPU; install a CUDA build of torch "
                             "(pip install 'cnnbench[gpu]') and check the NVIDIA driver (nvidia-smi)")

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

    def build(self, layer_list: list, name: str) -> nn.Module:
        model = network(layer_list).to(self.device)
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

    def prepare(self, model, recipe: Recipe, train_x, train_y, mean, std, seed: int,
                class_weights: list[float] | None = None) -> TrainState:
        generator = torch.Generator(device=self.device).manual_seed(seed)
        weights = torch.tensor(class_weights, device=self.device) if class_weights else None
        # Static shapes: the last partial batch and the evaluation batches get graphs of their own, rather
        # than one recompilation with a dynamic batch dimension (slower to compile, often slower to run).
        compiled = model if self.execution.compile == "off" else torch.compile(model, mode=self.execution.compile,
                                                                                  dynamic=False)
        scaler = torch.amp.GradScaler(self.device.type) if self.execution.amp == "fp16" else None
        return TrainState(make_optimizer(model, recipe, self.execution.fused_optimizer), torch.from_numpy(train_x).to(self.device),
                          torch.from_numpy(train_y).to(self.device),
                          torch.tensor(mean, device=self.device), torch.tensor(std, device=self.device),
                          recipe, generator, kernel_penalties(model), weights, output_classes(model),
                          np.random.default_rng(seed), compiled, scaler, train_x, train_y)

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
            index = order_t[start:start + recipe.batch_size]
            images = state.train_x[index]
            if recipe.augment:
                padding = recipe.crop_padding if "crop" in recipe.augment else 0
                images = augment(images, padding, "flip" in recipe.augment, state.generator)
            yield self._to_input(images, state, train=True), state.train_y[index]

    def _naive_batches(self, state: TrainState, order: np.ndarray):
        """What the reports did: a DataLoader over per-image PIL transforms, float32, copied per batch."""
        loader = naive_loader(state.host_x, state.host_y, order, state.recipe, state.mean.tolist(),
                              state.std.tolist(), pin_memory=self.device.type == "cuda")
        for images, labels in loader:
            yield (self._layout(images.to(self.device, non_blocking=True)),
                   labels.to(self.device, non_blocking=True))

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
                inputs, targets = mixup(inputs, targets, state.mixup_rng.beta(recipe.mixup_alpha, recipe.mixup_alpha),
                                        state.generator)
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
        return EpochStats(loss=loss_sum.item() / len(order), accuracy=correct.item() / len(order),
                          learning_rate=state.optimizer.param_groups[0]["lr"])

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

    @torch.no_grad()
    def predict(self, model, state: TrainState, images: np.ndarray) -> np.ndarray:
        model.eval()
        outputs = []
        for start in range(0, len(images), EVAL_BATCH_SIZE):
            batch = torch.from_numpy(images[start:start + EVAL_BATCH_SIZE]).to(self.device)
            with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
                outputs.append(state.forward(self._to_input(batch, state)).float().cpu())
        return torch.cat(outputs).numpy()

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
            "compile": self.execution.compile if self.execution.compile == "off" else f"{self.execution.compile}, dynamic=False",
            "precision": {"bf16": "bfloat16", "fp16": "float16"}.get(self.execution.amp, "float32"),
            "memory_format": "channels_last" if self.execution.channels_last else "channels_first",
            "loader": self.execution.loader,
        }

    def is_oom(self, error: BaseException) -> bool:
        return isinstance(error, (MemoryError, torch.OutOfMemoryError))

    def peak_device_memory(self) -> dict:
        if self.device.type != "cuda":
            return {"peak_device_bytes": None, "peak_device_measures": None}
        return {"peak_device_bytes": torch.cuda.max_memory_allocated(self.device),
                "peak_device_measures": "torch.cuda.max_memory_allocated (tensors only, not the "
                                        "caching allocator's reserve)"}
