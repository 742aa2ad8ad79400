"""The auditor's reading: the audit trail, the access log, their exports, access reviews.

Never case contents (DESIGN.md §8): claim numbers, who, when, which act, which role and
the chain's hashes; no address, scan, advice, amount, reason given or file name.
"""
