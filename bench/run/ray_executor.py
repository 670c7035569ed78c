"""The Ray executor: a sweep's trials as Ray tasks, over every GPU of one machine or a whole cluster.

Each task runs one trial in a fresh subprocess (`trial_process.run_trial`, as the local executor does), so no
framework state leaks between trials. Resources: one whole GPU for a cuda trial; for a cpu trial its
threads and the node's single `cnnbench_timed_cpu` slot, so at most one timed CPU trial runs on a node
at once (concurrent ones would distort each other's timings). A task whose Ray worker or node is lost
is retried once (from the trial's last checkpoint, where the same machine runs it), then becomes a `crashed`
row naming the cause. Outcomes come back to the driver,
which writes them; epochs reach the driver with the outcome, so a search's pruner learns from a Ray
trial's epochs but cannot stop it. Data: each node finds its own copy of the dataset through the usual lookup
(`--data-dir`, `$CNNBENCH_DATA`, the caches) and decodes it once into its own cache, so nothing large
crosses the network per trial and the worker subprocess reads the data as it does locally. Checkpoints
(bench.run.checkpoints) are kept under the driver's absolute results path on the node that runs the trial: on one
machine a resumed trial goes on from its last epoch; on a cluster, another node may take it and start afresh, and
the driver removes only its own machine's copy.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from bench.errors import BenchError
from bench.run import failpoints
from bench.spec.config import TrialConfig

TIMED_CPU = "cnnbench_timed_cpu"  # a custom resource, one per node: one timed CPU trial at a time
RETRIES = 1  # of a task whose worker process or node was lost


def _run_one(config: dict, timeout: float | None, checkpoint_root: str | None) -> dict:
    """One trial in a Ray task; its record names the Ray node that ran it (`machine.ray_node`)."""
    import ray

    from bench.run.trial_process import run_trial

    outcome = run_trial(TrialConfig.from_record(config), timeout, lambda event: None, checkpoint_root)
    outcome["machine"] = {**(outcome.get("machine") or {}), "ray_node": ray.get_runtime_context().get_node_id()}
    return outcome


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, max_parallel: int | None = None):
        try:
            import ray
        except ImportError:
            raise BenchError("--executor ray needs Ray: pip install 'cnnbench[ray]'") from None
        self.ray, self.address, self.max_parallel = ray, address, max_parallel

    def _connect(self, trials: list[TrialConfig]) -> None:
        ray = self.ray
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:  # a local instance over this machine's cores and every GPU
                ray.init(resources={TIMED_CPU: 1}, include_dashboard=False, log_to_driver=False)
        if any(t.device == "cpu" for t in trials) and not ray.cluster_resources().get(TIMED_CPU):
            raise BenchError(
                f"the Ray cluster has no {TIMED_CPU} resource for timed CPU trials: start each node "
                f"with ray start ... --resources='{{\"{TIMED_CPU}\": 1}}'"
            )
        if any(t.device == "cuda" for t in trials) and not ray.cluster_resources().get("GPU"):
            raise BenchError("--device cuda: the Ray cluster has no GPU")

    def _options(self, config: TrialConfig) -> dict:
        options = {"max_retries": RETRIES}
        if os.environ.get(failpoints.ENV):  # fault injection for the tests reaches the tasks too
            options["runtime_env"] = {"env_vars": {failpoints.ENV: os.environ[failpoints.ENV]}}
        if config.device == "cuda":
            return {**options, "num_gpus": 1, "num_cpus": 1}
        return {**options, "num_cpus": config.threads, "resources": {TIMED_CPU: 1}}

    def run(self, trials, admit, timeout, on_epoch, checkpoint_root=None):
        ray = self.ray
        self._connect(trials)
        task = ray.remote(_run_one)
        waiting, pending = list(trials), {}
        try:
            while waiting or pending:
                while waiting and len(pending) < (self.max_parallel or len(trials)):
                    config = waiting.pop(0)
                    if admit(config):
                        options = task.options(**self._options(config))
                        folder = checkpoint_root and str(checkpoint_root)
                        pending[options.remote(config.record(), timeout, folder)] = config
                if not pending:
                    continue
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                config = pending.pop(ready)
                try:
                    outcome = ray.get(ready)
                except ray.exceptions.RayError as error:
                    cause = (str(error).strip().splitlines() or [""])[0]
                    lost = not isinstance(error, ray.exceptions.RayTaskError)  # a worker or node gone, not a bug
                    error_line = f"Ray lost the trial after {RETRIES} retry: " if lost else "the Ray task failed: "
                    outcome = {
                        "status": "crashed",
                        "epochs": [],
                        "error": f"{error_line}{type(error).__name__}: {cause}",
                        "started_at": None,  # on a worker that is gone; when Ray lost it is now
                        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    }
                for epoch in outcome["epochs"]:  # after the fact: a pruner learns from them, stops nothing
                    on_epoch(config, {"event": "epoch", **epoch})
                yield config, outcome
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)
