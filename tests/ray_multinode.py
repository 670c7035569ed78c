"""Sweeps over a Ray cluster of several nodes on this machine (ray.cluster_utils.Cluster: each node its own raylet,
CPUs and timed-CPU slot, as `ray start` gives a lab's machines), in a process of its own: a process can join one
Ray instance only. The head runs the driver and no trial (it has no timed-CPU slot). Prints the outcome as one
JSON line; `tests/test_ray.py` runs it, and so can a person (docs/ray.md):

    python -m tests.ray_multinode RESULTS_DIR

1. Spread: four short trials on two worker nodes; which node ran each, and every record back at the driver.
2. A node lost mid-trial: one long trial; its node is killed after an epoch, a new node takes the retried task
   (which goes on from the trial's checkpoint), then that node is killed too: the trial becomes a crashed row.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

POLL_S = 0.1
OUTCOME = "outcome: "  # the line the test reads (Ray's nodes log to stdout too)
WAIT_S = 240.0  # for an epoch's checkpoint to appear: a node, a worker process and torch must start first


def newest_checkpoint(folder: Path) -> tuple[int, int]:
    """(epoch, process) of the newest finished epoch checkpointed under `folder`: which epoch, and which of the
    trial's processes ran it ((0, 0) where none is)."""
    finished = sorted(path for path in folder.glob("*/epoch-*") if path.suffix != ".partial")
    try:
        last = json.loads((finished[-1] / "harness.json").read_text())["epochs"][-1]
    except (IndexError, OSError, json.JSONDecodeError):  # none yet, or replaced by a newer one as it was read
        return 0, 0
    return last["epoch"], last["process"]


def wait_for_process(folder: Path, process: int) -> int:
    """Wait until the trial's process number `process` (or a later one) has checkpointed an epoch; that epoch."""
    deadline = time.monotonic() + WAIT_S
    while (newest := newest_checkpoint(folder))[1] < process:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no epoch of the trial's process {process} within {WAIT_S:.0f} s")
        time.sleep(POLL_S)
    return newest[0]


def spread(cluster, results: str) -> dict:
    """Four short trials over the cluster's two worker nodes: the nodes that ran them, and the records."""
    from bench.results import store
    from bench.run import runner
    from bench.run.ray_executor import RayExecutor
    from tests.test_end_to_end import synthetic_trial

    trials = [synthetic_trial(seed=seed, epochs=2) for seed in range(4)]
    summary = runner.run_sweep(trials, results, executor=RayExecutor(address=cluster.address))
    records = store.load(results)
    return {
        "ok": summary.counts["ok"],
        "records": len(records),
        "ran_on": sorted({record["machine"]["ray_node"] for record in records}),
    }


def node_lost(cluster, results: str, node) -> dict:
    """One long trial on `node`: killed after an epoch, retried on a new node from its checkpoint, whose node is
    killed in turn; the epochs each node reached and the trial's record."""
    from bench.results import store
    from bench.run import runner
    from bench.run.checkpoints import root
    from bench.run.ray_executor import TIMED_CPU, RayExecutor
    from tests.test_end_to_end import synthetic_trial

    executor = RayExecutor(address=cluster.address)
    trial = synthetic_trial(seed=9, epochs=1000)
    sweep = threading.Thread(
        target=runner.run_sweep, args=([trial], results), kwargs={"executor": executor}, daemon=True
    )
    sweep.start()
    first = wait_for_process(root(results), 1)
    cluster.remove_node(node, allow_graceful=False)  # its trial's process dies at its next event (a broken pipe)
    retry_node = cluster.add_node(num_cpus=1, resources={TIMED_CPU: 1})
    retried = wait_for_process(root(results), 2)  # the retried task, resumed from the checkpoint
    cluster.remove_node(retry_node, allow_graceful=False)
    sweep.join(WAIT_S)
    if sweep.is_alive():
        raise TimeoutError(f"the sweep did not end within {WAIT_S:.0f} s of its last node's loss")
    (record,) = store.load(results)
    return {
        "first_node_epoch": first,
        "retry_resumed_at_epoch": retried,
        "status": record["status"],
        "error": record.get("error") or "",
    }


def main(results: str) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from bench.run.ray_executor import TIMED_CPU

    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")  # a loaded machine starts GCS slowly
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes = [cluster.add_node(num_cpus=1, resources={TIMED_CPU: 1}) for _ in range(2)]
    cluster.wait_for_nodes()
    try:
        outcome = {"spread": spread(cluster, str(Path(results) / "spread"))}
        workers = sorted(node["NodeID"] for node in ray.nodes() if node["Alive"] and node["Resources"].get(TIMED_CPU))
        cluster.remove_node(nodes[1])  # one worker left: the long trial runs there
        outcome["worker_nodes"] = workers
        outcome["node_lost"] = node_lost(cluster, str(Path(results) / "lost"), nodes[0])
        print(OUTCOME + json.dumps(outcome), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
