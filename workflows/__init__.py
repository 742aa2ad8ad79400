"""The rules that need no framework: the claim, payout and payment-batch state machines
(DESIGN.md §3, on `transitions`) and the Awb clock of DOMAIN.md §4 (`workflows.awb`).

This package imports nothing of ours and no framework, so the rules can be read and
tested on their own.
"""
