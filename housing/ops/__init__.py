"""Operational state: worker liveness and health."""
