"""What a sweep shows while it runs. On a terminal: a bar for the sweep and one for the running trial, each
with its epochs and ETA (tqdm). Elsewhere (nox, CI, a file): one line per finished epoch, flushed at once."""

from __future__ import annotations

import sys

from tqdm import tqdm

from bench.spec.config import TrialConfig


def epoch_line(config: TrialConfig, event: dict) -> str:
    """`epoch 3/50 r2_vanilla_cnn torch cpu bs64 seed0: train loss 1.234, val accuracy 0.4560, 38.2 s`."""
    parts = [f"train loss {event['train_loss']:.3f}"]
    if event.get("val_accuracy") is not None:
        parts.append(f"val accuracy {event['val_accuracy']:.4f}")
    parts.append(f"{event['epoch_time_s']:.1f} s")
    return f"epoch {event['epoch']}/{config.epochs} {config.label()}: " + ", ".join(parts)


class Progress:
    """The sweep's progress on `stream`: bars on a terminal, lines elsewhere. Several trials may run at once
    (the Ray executor): each has its own bar and count."""

    def __init__(self, total_epochs: int, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.sweep = tqdm(
            total=total_epochs, unit="epoch", dynamic_ncols=True, disable=not self.interactive, file=self.stream
        )
        self.bars: dict[str, tqdm] = {}
        self.epochs_seen: dict[str, int] = {}

    def start(self, config: TrialConfig) -> None:
        """A trial begins."""
        self.epochs_seen[config.trial_id] = 0
        self.sweep.set_description(config.label())
        if self.interactive:
            self.bars[config.trial_id] = tqdm(
                total=config.epochs,
                unit="epoch",
                desc=f"  {config.label()}",
                leave=False,
                dynamic_ncols=True,
                file=self.stream,
            )

    def skip(self, config: TrialConfig) -> None:
        """A trial left out (resumed, or another sweep's): its epochs count as done."""
        self.sweep.update(config.epochs)

    def epoch(self, config: TrialConfig, event: dict) -> None:
        self.epochs_seen[config.trial_id] = self.epochs_seen.get(config.trial_id, 0) + 1
        self.sweep.update(1)
        if config.trial_id in self.bars:
            self.bars[config.trial_id].update(1)
        else:
            self.write(epoch_line(config, event))

    def finish(self, config: TrialConfig, line: str) -> None:
        """A trial ended (early stopping and failures end before its last epoch) with its result line."""
        if config.trial_id in self.bars:
            self.bars.pop(config.trial_id).close()
        self.sweep.update(max(0, config.epochs - self.epochs_seen.pop(config.trial_id, 0)))
        self.write(line)

    def write(self, line: str) -> None:
        if self.interactive:
            self.sweep.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.sweep.close()
