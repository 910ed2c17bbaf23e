"""Fixtures' building blocks: embedded processes or containers behind one interface."""
