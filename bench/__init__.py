"""Benchmarks of the bridge: ingress, stream worker and end to end (never timed tests)."""
