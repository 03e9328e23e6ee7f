"""What became of one run of a strategy at a candle close. The run (StrategyExecution)
belongs to the executions app; the status is defined here, one floor lower, so the
strategies admin can show a strategy's last runs without importing upward."""

from django.db.models import TextChoices


class ExecutionStatus(TextChoices):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"


# The final statuses a run ends with.
EXECUTION_OUTCOMES = (ExecutionStatus.COMPLETED, ExecutionStatus.SKIPPED, ExecutionStatus.FAILED)
