"""TensorBoard logs of a sweep (`--tensorboard DIR`), written by the driver from the harness's own events.

Both frameworks are logged by the same code from the same figures (the epoch events every trial
sends, and its record): one run per trial, named by its label, so TensorBoard's run list lines up
torch and keras. Per epoch: train and validation loss and accuracy, learning rate, epoch time and
images/s; at the end the trial's configuration as hyperparameters with its final metrics (the HParams
dashboard). Uses the `tensorboard` package's event writer and protocol buffers only (no TensorFlow).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bench.errors import BenchError
from bench.spec.searches import objective

EPOCH_SCALARS = {
    "train/loss": "train_loss",
    "train/accuracy": "train_accuracy",
    "val/loss": "val_loss",
    "val/accuracy": "val_accuracy",
    "learning_rate": "learning_rate",
    "epoch_time_s": "epoch_time_s",
    "images_per_s": "images_per_s",
}
HPARAMS = (
    "model",
    "framework",
    "backend",
    "device",
    "batch_size",
    "learning_rate",
    "seed",
    "epochs",
    "recipe",
    "dataset",
    "train_subset",
    "amp",
    "compile",
    "loader",
)


def check_available() -> None:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise BenchError("--tensorboard needs the tensorboard package: pip install 'cnnbench[tensorboard]'") from None


def run_name(label: str, trial_id: str) -> str:
    return f"{re.sub(r'[^A-Za-z0-9.=_-]+', '_', label).strip('_')}_{trial_id[:8]}"


class TrialLogs:
    """One event file per trial under `directory/<run name>/`, opened at its first epoch."""

    def __init__(self, directory):
        check_available()
        self.directory = Path(directory)
        self.writers: dict[str, object] = {}

    def _writer(self, config):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        if config.trial_id not in self.writers:
            path = self.directory / run_name(config.label(), config.trial_id)
            path.mkdir(parents=True, exist_ok=True)
            self.writers[config.trial_id] = EventFileWriter(str(path))
        return self.writers[config.trial_id]

    def _scalars(self, config, step: int, values: dict) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(
            value=[
                Summary.Value(tag=tag, simple_value=float(value)) for tag, value in values.items() if value is not None
            ]
        )
        self._writer(config).add_event(Event(wall_time=time.time(), step=step, summary=summary))

    def epoch(self, config, event: dict) -> None:
        self._scalars(config, event["epoch"], {tag: event.get(key) for tag, key in EPOCH_SCALARS.items()})

    def finish(self, config, record: dict) -> None:
        """The configuration as hyperparameters, and the final metrics (test accuracy when scored)."""
        from tensorboard.compat.proto.event_pb2 import Event

        metrics = {
            "final/val_accuracy": objective(record),
            "final/test_accuracy": (record.get("test") or {}).get("accuracy"),
            "final/epoch_median_s": (record.get("timing") or {}).get("epoch_median_s"),
        }
        metrics = {tag: value for tag, value in metrics.items() if value is not None}
        step = len(record.get("epochs") or [])
        if metrics:
            self._scalars(config, step, metrics)
        values = config.record()
        hparams = {key: values[key] for key in HPARAMS}
        writer = self._writer(config)
        for summary in _hparams_summaries(hparams, list(metrics), record["status"]):
            writer.add_event(Event(wall_time=time.time(), step=step, summary=summary))
        writer.close()
        del self.writers[config.trial_id]

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _hparams_summaries(hparams: dict, metric_tags: list[str], status: str) -> list:
    """The HParams plugin's three summaries (experiment, session start, session end), as torch's
    SummaryWriter.add_hparams writes them."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    start = plugin_data_pb2.SessionStartInfo()
    for key, value in hparams.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            start.hparams[key].number_value = float(value)
        else:
            start.hparams[key].string_value = "" if value is None else str(value)
    experiment = api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=key) for key in hparams],
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag)) for tag in metric_tags],
    )
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS if status == "ok" else api_pb2.STATUS_FAILURE)
    parts = (
        (metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
        (metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start)),
        (metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end)),
    )
    return [
        Summary(value=[Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data))]) for tag, data in parts
    ]
