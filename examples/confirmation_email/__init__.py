"""Send a confirmation email when a FedaPay payment is approved, exactly once per event.

Reads ``fedapay.transaction.approved``, sends one email per distinct event through SMTP, and
records what it sent in SQLite. See README.md next to this file.
"""
