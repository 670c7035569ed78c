"""How a trial runs, apart from what it trains: the speed options a suite entry or a trial holds, and the
values each may take. Framework-neutral data: which framework honours which option is in bench.frameworks."""

from __future__ import annotations

from dataclasses import dataclass, fields

AMP = ("off", "bf16", "fp16")
COMPILE = ("off", "default", "reduce-overhead", "max-autotune")  # reduce-overhead: CUDA graphs on a GPU
LOADERS = ("fast", "naive")


@dataclass(frozen=True)
class Execution:
    """How a trial runs, apart from what it trains: speed options, recorded as the row's variant.

    fast loader: data resident on the device as uint8, augmented in batches there (both frameworks).
    naive loader (torch only): a DataLoader over per-image PIL transforms, what the papers did.
    Which framework honours which option: the `honoured` options of each bench.frameworks.Framework.
    """

    amp: str = "off"  # mixed precision: off | bf16 | fp16 (keras: mixed_bfloat16 / mixed_float16 policy)
    channels_last: bool = False  # torch memory format (keras is always channels-last)
    compile: str = "off"  # torch.compile mode; keras: jit_compile=True for anything but off
    loader: str = "fast"
    fused_optimizer: bool = False  # torch: the optimizer's fused kernel (fused=True): one launch per step
    cudnn_benchmark: bool = False  # torch: cuDNN autotunes its convolution algorithms (timing rule changes)
    steps_per_execution: int = 1  # keras: training steps per call of the compiled step function

    @classmethod
    def of(cls, values: dict) -> Execution:
        """The execution options in `values` (a record's flat config, say); absent ones at their default."""
        return cls(**{f.name: values.get(f.name, f.default) for f in fields(cls)})

    def label(self) -> str:
        parts = (
            [self.loader]
            + ([self.amp] if self.amp != "off" else [])
            + (["channels-last"] if self.channels_last else [])
            + ([f"compile={self.compile}"] if self.compile != "off" else [])
            + (["fused-optimizer"] if self.fused_optimizer else [])
            + (["cudnn-benchmark"] if self.cudnn_benchmark else [])
            + ([f"steps-per-execution={self.steps_per_execution}"] if self.steps_per_execution != 1 else [])
        )
        return "+".join(parts)


EXECUTION_OPTIONS = tuple(f.name for f in fields(Execution))
