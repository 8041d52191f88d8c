"""Reliability and security tests: faults, hostile input, secrets in logs (see RELIABILITY.md)."""

import pytest

# The shared assertions of the stream tests keep pytest's explanations.
pytest.register_assert_rewrite("tests.reliability.probe")
