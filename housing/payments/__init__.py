"""Payouts, SEPA payment batches and bank-statement reconciliation."""
