"""Embedded infrastructure for a laptop, tests and CI: `payments infra up | down | status`."""
