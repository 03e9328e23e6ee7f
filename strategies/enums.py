"""What became of one run of a strategy at a candle close, and the state of a position.
The run (StrategyExecution) and the position (Trade) belong to the executions app; their
statuses are defined here, one floor lower, so the strategies admin can show a strategy's
last runs, and the strategies' rules can count its open trades, without importing upward;
the floors above (subscriptions, executions) import them from here."""

from django.db.models import TextChoices


class ExecutionStatus(TextChoices):
    PENDING = "PENDING"  # expected by the tick, not started yet
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


# The final statuses a run ends with.
EXECUTION_OUTCOMES = (ExecutionStatus.COMPLETED, ExecutionStatus.SKIPPED, ExecutionStatus.FAILED)
# A SKIPPED row whose error starts with this is a close that was missed (not run in time).
MISSED = "missed"


class TradeStatus(TextChoices):
    OPEN = "OPEN"
    # An exit order is out: the position is being closed (its fills will close it).
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"
    # The entry never filled (refused before sending, rejected, expired): no position.
    CANCELLED = "CANCELLED"
