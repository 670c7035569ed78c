"""Running trials: one training run, its schedule, its process, the sweep, executors, searches, the yardstick."""
