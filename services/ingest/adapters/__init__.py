"""Ingest's edges: PostgreSQL (dedupe ledger, learned order ids) and the Kafka producer."""
