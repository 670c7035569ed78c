"""Derived tables and plots: the leaderboard, comparisons, the noise model, display labels."""
