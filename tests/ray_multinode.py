"""A sweep over a Ray cluster of two nodes on this machine (ray.cluster_utils.Cluster: each node its own raylet,
CPUs and timed-CPU slot, as `ray start` gives a lab's machines), in a process of its own: a process can join one
Ray instance only. Prints the outcome as one JSON line; run by hand (docs/ray.md), not yet in the suite.

    python -m tests.ray_multinode RESULTS_DIR
"""

from __future__ import annotations

import json
import sys


def main(results: str) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from bench.results import store
    from bench.run import runner
    from bench.run.ray_executor import TIMED_CPU, RayExecutor
    from tests.test_end_to_end import synthetic_trial

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {TIMED_CPU: 1}})
    cluster.add_node(num_cpus=1, resources={TIMED_CPU: 1})
    cluster.wait_for_nodes()
    try:
        trials = [synthetic_trial(seed=seed, epochs=2) for seed in range(4)]
        summary = runner.run_sweep(trials, results, executor=RayExecutor(address=cluster.address))
        records = store.load(results)
        nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        print(
            json.dumps(
                {
                    "ok": summary.counts["ok"],
                    "records": len(records),
                    "cluster_nodes": len(nodes),
                    "ran_on": sorted({record["machine"]["ray_node"] for record in records}),
                    "nodes": sorted(nodes),
                }
            )
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
