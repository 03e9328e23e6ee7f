"""The state of a subscription's position. The position (Trade) belongs to the executions
app; its status is defined in `strategies.enums` (the lowest floor that counts open
trades) and handed on here, so the subscriptions API and admin can count open trades and
chart closed ones without importing upward."""

from strategies.enums import TradeStatus

__all__ = ["TradeStatus"]
