"""Reliability and security tests: faults, hostile input, secrets in logs (see RELIABILITY.md)."""
