"""State machines of the claim, payout and payment-batch workflows (DESIGN.md §3).

Pure Python on `transitions`: this package imports nothing of ours and no framework,
so the rules can be read and tested on their own.
"""
