"""Realistic FedaPay webhook traffic for demos, end-to-end tests and benchmarks.

``payloads`` builds bodies in FedaPay's shape and serialization, ``lifecycle``
generates seeded event streams with their truth, ``delivery`` sends them with
duplicates, reordering and FedaPay-like retries, ``cli`` is ``simulate``.
"""
