"""Signals the lower apps send and `executions` (which owns trades and orders) answers:
the apps below it cannot import it."""

from django.dispatch import Signal

# Close open positions through the exchanges. Keyword arguments: `subscription_ids`
# (a list), `user_ids` (a list) or `everything=True`, and `reason` (shown on the trades).
positions_flatten_requested = Signal()
