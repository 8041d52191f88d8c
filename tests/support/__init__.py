"""Helpers shared by the tests that production code has no use for."""
