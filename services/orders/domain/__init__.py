"""The pure order domain: no I/O, only the standard library, pydantic and libs.common.

Entry points for the handlers are in `aggregate` (`handle_command`, `handle_stripe_event`,
`apply_facts`, `snapshot`/`restore`); `timeline.timeline(order)` is what the UI reads.
"""
