"""The run lifecycle: a StrategyExecution row is created RUNNING (`fence.execution_claim`)
and always ends COMPLETED, SKIPPED (with the reason) or FAILED (with the error), with its
duration and the strategy's captured output (truncated) followed by the engine's notes.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.utils import timezone

from executions.engine.book import subscribers_count
from executions.execution_log import execution_log_join
from executions.models import StrategyExecution

logger = logging.getLogger(__name__)

LOG_OUTPUT_LIMIT = 64 * 1024
ERROR_LIMIT = 4000


class Outcome(Exception):
    """Ends a run early with a final status (SKIPPED or FAILED) and a message."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class RunRecord:
    """What a run writes down as it goes: the strategy's output and the engine's notes."""

    execution: StrategyExecution
    started: float = field(default_factory=time.monotonic)
    output: str = ""
    notes: list[str] = field(default_factory=list)

    def finish(self, status: str, *, error: str = "", **fields) -> None:
        execution = self.execution
        if "subscribers_count" not in fields:
            # A FAILED or SKIPPED run names the subscriptions it would have served, too.
            fields["subscribers_count"] = subscribers_count(strategy_id=execution.strategy_id)
        execution.status = status
        execution.error_message = error[:ERROR_LIMIT]
        execution.execution_log = self.log()
        execution.completed_at = timezone.now()
        execution.duration_ms = int((time.monotonic() - self.started) * 1000)
        for name, value in fields.items():
            setattr(execution, name, value)
        execution.save(
            update_fields=[
                "status",
                "error_message",
                "execution_log",
                "completed_at",
                "duration_ms",
                "signal",
                *fields,
            ]
        )

    def log(self) -> str:
        output = self.output
        if len(output) > LOG_OUTPUT_LIMIT:
            output = output[:LOG_OUTPUT_LIMIT] + "\n… [output truncated]"
        return execution_log_join(output, self.notes)


@contextmanager
def execution_recorded(execution: StrategyExecution) -> Iterator[RunRecord]:
    """The run's record for the body; whatever the body raises ends the row and goes no
    further: an `Outcome` with its status, anything else FAILED (logged)."""
    record = RunRecord(execution)
    try:
        yield record
    except Outcome as outcome:
        record.finish(outcome.status, error=outcome.message)
    except Exception as exc:
        # The traceback names our code only; no credential is ever loaded here.
        logger.exception(
            "execution %s of strategy %s failed unexpectedly", execution.id, execution.strategy_id
        )
        record.finish(
            StrategyExecution.Status.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"
        )
