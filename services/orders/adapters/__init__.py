"""The orders service's edges: PostgreSQL, Stripe."""
