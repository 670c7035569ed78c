"""Keras optimizers with torch's conventions (the harness's reference semantics): coupled weight decay, torch's
momentum and Adam epsilon, and the harness's per-step learning rates as a schedule."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from bench.spec.recipes import Recipe


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
    # sgd, the other of bench.spec.recipes.OPTIMIZERS (a recipe holds one of them)
    return TorchSGD(schedule, momentum=recipe.momentum, nesterov=recipe.nesterov, **common)
