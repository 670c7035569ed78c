"""What a trial measures besides accuracy: timing, memory, metrics, peak FLOP/s, provenance, calibration."""
