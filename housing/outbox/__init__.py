"""The transactional outbox: background work asked for in the same transaction as its cause."""
