"""The run lifecycle: a run owns a RUNNING StrategyExecution row (`fence.execution_claim`)
and ends it COMPLETED, SKIPPED (with the reason) or FAILED (with the error), with its
duration and the strategy's captured output (truncated) followed by the engine's notes,
through the fence's conditional UPDATE: a run whose row was reaped or given up in the
meantime writes nothing (`Fenced`, logged). Whatever goes wrong, the row never stays
RUNNING because of this run: a result the database refuses (a DataError, say) is stored
as FAILED without it.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from django.utils import timezone

from executions.engine.book import subscribers_count
from executions.execution_log import execution_log_join
from executions.models import StrategyExecution

from .fence import Fenced, execution_finish

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
        """End the row (`fence.execution_finish`); raises `Fenced` if it is not ours."""
        if "subscribers_count" not in fields:
            # A FAILED or SKIPPED run names the subscriptions it would have served, too.
            fields["subscribers_count"] = subscribers_count(strategy_id=self.execution.strategy_id)
        execution_finish(
            self.execution,
            {
                "status": status,
                "error_message": error[:ERROR_LIMIT],
                "execution_log": self.log(),
                "completed_at": timezone.now(),
                "duration_ms": int((time.monotonic() - self.started) * 1000),
                "signal": self.execution.signal,
                **fields,
            },
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
        try:
            yield record
        except Outcome as outcome:
            record.finish(outcome.status, error=outcome.message)
    except Fenced:
        logger.warning(
            "execution %s of strategy %s was reaped or given up: its result is dropped",
            execution.id,
            execution.strategy_id,
        )
    except Exception as exc:
        # The traceback names our code only; no credential is ever loaded here.
        logger.exception(
            "execution %s of strategy %s failed unexpectedly", execution.id, execution.strategy_id
        )
        _finish_failed(record, f"internal error: {type(exc).__name__}: {exc}")


def _finish_failed(record: RunRecord, error: str) -> None:
    """FAILED with `error`, without the signal (it may be what the database refused)."""
    record.execution.signal = None
    with suppress(Fenced):
        record.finish(StrategyExecution.Status.FAILED, error=error)
