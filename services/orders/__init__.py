"""Orders service: the order aggregate, its timeline, payments through Stripe, and fees."""
