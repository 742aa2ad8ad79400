"""Retries never duplicate: a request's key remembered with the response it had."""
