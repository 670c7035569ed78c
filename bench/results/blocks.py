"""The typed blocks of a trial's record, one small class each with its fields in one place (as pytest-benchmark's
`Stats`): bench.run.trial fills them, and bench.results.schema checks every block of a record against its class
when the record is written and when it is read. A block of an older record may lack fields added since."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

@dataclass(frozen=True)
class Budget:
    """The trial's budget against its paper's."""

    epochs: int  # the recipe's, as run
    paper_epochs: int  # the paper recipe's
    train_images: int
    full_training_set: bool
    matches_paper: bool  # the paper's recipe without deviations, its epochs, the whole training and test sets
    note: str  # the suite's word on the budget


@dataclass(frozen=True)
class EarlyStop:
    """Where the recipe's early stopping ended training and whose weights it restored (None: it did not)."""

    stopped_after_epoch: int | None
    restored_epoch: int | None


@dataclass(frozen=True)
class Dataset:
    """Which data the trial saw: the copy, its classes, and the split's sizes and seed."""

    name: str
    label: str
    source: str
    sha256: str
    num_classes: int
    class_names: list
    train_size: int
    val_size: int
    test_size: int  # 0 for a search's candidate
    split_seed: int
    images_sha256: str | None = None  # the decoded images and labels, whatever their file layout (None before v7)


@dataclass(frozen=True)
class Model:
    """The model as built: its paper, parameters as the framework counts them, and FLOPs."""

    paper: str
    description: str
    params_trainable: int
    params_non_trainable: int
    forward_flops_per_image: int
    trained_weights_sha256: str | None = None  # every weight after training, in torch's layout (None before v6)


@dataclass(frozen=True)
class Timing:
    """The first epoch apart, then the steady epochs' median and spread, and the test set's scoring rate."""

    first_epoch_s: float | None
    epoch_median_s: float | None
    epoch_iqr_s: float | None
    steady_epochs: int
    train_images_per_s: float | None
    inference_images_per_s: float | None  # None for a search's candidate


@dataclass(frozen=True)
class TimeToAccuracy:
    """When validation accuracy first reached the target; None where it never did."""

    target: float | None
    epoch: int | None
    train_seconds: float | None
    wall_seconds: float | None


@dataclass(frozen=True)
class Compute:
    """Training FLOPs per epoch, the rate achieved and its share of the device's peak (None where unknown)."""

    train_flops_per_epoch: int
    achieved_tflops: float
    peak_tflops: float | None
    share_of_peak: float | None
    precision_for_peak: str


@dataclass(frozen=True)
class Memory:
    """Peak host memory of the trial process and the device's peak where the framework counts it."""

    peak_rss_bytes: int
    peak_rss_measures: str
    peak_device_bytes: int | None
    peak_device_measures: str | None


@dataclass(frozen=True)
class TestScores:
    """The test set, scored once."""

    accuracy: float
    loss: float
    macro_f1: float
    per_class_accuracy: dict
    confusion_matrix: list  # rows: the true class


@dataclass(frozen=True)
class Inference:
    """The trained model served as deployed (bench.measure.inference): batch-1 latency and throughput."""

    path: str  # the framework's serving path, e.g. "torch no_grad, eager"
    latency_median_ms: float  # one image per call
    latency_p99_ms: float
    latency_calls: int
    throughput_batch: int | None  # the largest ladder batch that fit
    throughput_images_per_s: float | None
    batches_out_of_memory: list  # ladder batches that did not fit
    foreign_cpu_cores: float  # other processes' CPU meanwhile (bench.measure.load): its times were under load


BLOCKS = {
    "budget": Budget,
    "early_stopping": EarlyStop,
    "dataset": Dataset,
    "model": Model,
    "timing": Timing,
    "time_to_accuracy": TimeToAccuracy,
    "compute": Compute,
    "memory": Memory,
    "test": TestScores,
    "inference": Inference,
}
TYPES = {"int": (int,), "float": (float, int), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}


def block(kind: type, **values) -> dict:
    """A record's block: `kind` filled with `values` (every field, checked by the dataclass), as a dict."""
    return asdict(kind(**values))


def block_fault(name: str, values: dict) -> str | None:
    """What is wrong with a record's block `name` against its class: an unknown field or a value of the wrong
    type; None when nothing is."""
    kinds = {field.name: field.type for field in fields(BLOCKS[name])}
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        return f"{name}: unknown fields {', '.join(unknown)}"
    for field, value in values.items():
        allowed = [part.strip() for part in kinds[field].split("|")]
        if value is None and "None" in allowed:
            continue
        if not any(isinstance(value, TYPES[part]) for part in allowed if part != "None"):
            return f"{name}.{field} is {type(value).__name__}, not {kinds[field]}"
    return None
