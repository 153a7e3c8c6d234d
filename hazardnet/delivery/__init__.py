"""Delivery: who receives what — the recipient directory, scope rules, mail and the delivery ledger."""
