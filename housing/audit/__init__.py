"""The audit trail (a hash chain per organisation) and the access log."""
