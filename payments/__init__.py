"""Stripe gateway, the money side of pledges, settlement jobs, webhooks, refunds, ledger.

Nothing outside this package imports ``stripe``.
"""
