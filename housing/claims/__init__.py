"""Claims: the woningscan, the security advice, measure lines, documents and decisions."""
