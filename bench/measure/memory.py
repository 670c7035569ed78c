"""Peak memory probes: process RSS sampled by psutil on a background thread (host memory)."""

from __future__ import annotations

import threading

import psutil


class PeakRSS:
    """Context manager sampling this process's resident set size every `interval` seconds.

    `peak_bytes` is the largest sample (host memory of the whole process: framework runtime,
    dataset arrays and activations on CPU), so very short spikes can be missed.
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak_bytes = 0
        self._process = psutil.Process()
        self._stop = threading.Event()

    def _sample(self) -> None:
        while True:
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)
