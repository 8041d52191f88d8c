"""Peer implementations of the bridge's stages, for side-by-side benchmarks."""
