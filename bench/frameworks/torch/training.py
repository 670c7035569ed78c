"""What a torch training step is made of: augmentation as batched gathers on the device (crop, flip), colour
jitter and rotation, mixup, the naive per-image loader the papers used, the recipe's optimizer and loss."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench.frameworks import numerics
from bench.spec.recipes import Recipe


def augment(images: torch.Tensor, padding: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding and random horizontal flip of a uint8 NHWC batch, in one gather
    (bench.frameworks.numerics.crop_flip)."""
    count, device = images.shape[0], images.device
    top = torch.randint(0, 2 * padding + 1, (count, 1), generator=generator, device=device)
    left = torch.randint(0, 2 * padding + 1, (count, 1), generator=generator, device=device)
    flipped = torch.rand(count, 1, generator=generator, device=device) < 0.5 if flip else None
    return numerics.crop_flip(TorchOps(device), images, padding, top, left, flipped)


def photometric(pixels: torch.Tensor, jitter: float, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """Colour jitter (brightness, contrast, saturation) and random rotation of NHWC images in [0, 1]."""
    count = pixels.shape[0]
    if jitter:
        uniform = lambda: torch.rand(count, 1, 1, 1, generator=generator, device=pixels.device)  # noqa: E731
        pixels = numerics.colour_jitter(
            TorchOps(pixels.device), pixels, jitter, uniform, torch.tensor(numerics.GREY, device=pixels.device)
        )
    if degrees:
        angle = (torch.rand(count, generator=generator, device=pixels.device) * 2 - 1) * degrees * torch.pi / 180
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        nchw = pixels.permute(0, 3, 1, 2)
        grid = F.affine_grid(theta, list(nchw.shape), align_corners=False)
        pixels = F.grid_sample(nchw, grid, mode="bilinear", padding_mode="zeros", align_corners=False).permute(
            0, 2, 3, 1
        )
    return pixels


def mixup(
    inputs: torch.Tensor, targets: torch.Tensor, weight: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix a batch with a random permutation of itself: weight * a + (1 - weight) * b, images and targets."""
    permutation = torch.randperm(len(inputs), generator=generator, device=inputs.device)
    ops = TorchOps(inputs.device)
    return numerics.mix(ops, inputs, permutation, weight), numerics.mix(ops, targets, permutation, weight)


class PerImageDataset(torch.utils.data.Dataset):
    """CIFAR images as a torchvision-style dataset: one PIL image at a time through the transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def naive_loader(
    images: np.ndarray, labels: np.ndarray, order: np.ndarray, recipe: Recipe, mean: list, std: list, pin_memory: bool
) -> torch.utils.data.DataLoader:
    """The papers' input pipeline: torchvision transforms per image in DataLoader workers."""
    from torchvision import transforms

    steps = []
    if "crop" in recipe.augment:
        steps.append(transforms.RandomCrop(images.shape[1:3], padding=recipe.crop_padding))
    if "flip" in recipe.augment:
        steps.append(transforms.RandomHorizontalFlip())
    if recipe.jitter:
        steps.append(transforms.ColorJitter(recipe.jitter, recipe.jitter, recipe.jitter))
    if recipe.rotation:
        steps.append(transforms.RandomRotation(recipe.rotation))
    steps += [transforms.ToTensor(), transforms.Normalize(mean, std)]
    return torch.utils.data.DataLoader(
        PerImageDataset(images, labels, transforms.Compose(steps)),
        batch_size=recipe.batch_size,
        sampler=order.tolist(),
        num_workers=NAIVE_WORKERS,
        pin_memory=pin_memory,
    )


NAIVE_WORKERS = 2  # DataLoader worker processes of the naive loader, as tutorials set it


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = False) -> torch.optim.Optimizer:
    """The recipe's optimizer; the learning rate is set before every step from the shared schedule.
    `fused`: one kernel updates every tensor (torch's default is a foreach loop over them)."""
    kernel = {"fused": True} if fused else {}
    if recipe.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(),
            lr=recipe.learning_rate,
            eps=recipe.adam_epsilon,
            weight_decay=recipe.weight_decay,
            **kernel,
        )
    # sgd, the other of bench.spec.recipes.OPTIMIZERS (a recipe holds one of them)
    return torch.optim.SGD(
        model.parameters(),
        lr=recipe.learning_rate,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
        **kernel,
    )


class TorchOps:
    """The shared numerics' operations (bench.frameworks.numerics) in torch, with keras.ops's names and
    keywords; the tensors it makes (arange) are on `device`."""

    def __init__(self, device):
        self.device = device

    def arange(self, count: int) -> torch.Tensor:
        return torch.arange(count, device=self.device)

    sum = staticmethod(lambda x, axis, keepdims=False: x.sum(dim=axis, keepdim=keepdims))
    mean = staticmethod(lambda x, axis, keepdims=False: x.mean(dim=axis, keepdim=keepdims))
    exp = staticmethod(torch.exp)
    log_softmax = staticmethod(lambda x, axis: F.log_softmax(x, dim=axis))
    clip = staticmethod(torch.clamp)
    pad = staticmethod(lambda x, widths: F.pad(x, [w for pair in reversed(widths) for w in pair]))  # last axis first
    broadcast_to = staticmethod(torch.broadcast_to)
    where = staticmethod(torch.where)
    take = staticmethod(lambda x, indices, axis: torch.index_select(x, axis, indices))
    reshape = staticmethod(torch.reshape)


def recipe_loss(
    logits: torch.Tensor, targets: torch.Tensor, recipe: Recipe, class_weights: torch.Tensor | None
) -> torch.Tensor:
    """The recipe's loss (bench.frameworks.numerics.recipe_loss), averaged over the batch."""
    return numerics.recipe_loss(TorchOps(logits.device), logits, targets, recipe, class_weights).mean()


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
