"""The text kept on `StrategyExecution.execution_log`: what the strategy printed, then the
engine's notes (one a line) after a marker line. Written by the engine, read back by the
API for the strategy's author."""

import re
from collections.abc import Sequence

ENGINE_MARKER = "--- engine ---"
# "no trade for 3 subscription(s), <reason>: <id>, <id> …": the ids are other users'.
_NAMED_SUBSCRIPTIONS = re.compile(
    r"^(no trade for \d+ subscription\(s\), .+?): [0-9a-f-]{36}(?:, [0-9a-f-]{36})*(?: …)?$"
)


def execution_log_join(output: str, notes: Sequence[str]) -> str:
    if not notes:
        return output
    engine = "\n".join(notes)
    return f"{output}\n{ENGINE_MARKER}\n{engine}" if output else f"{ENGINE_MARKER}\n{engine}"


def execution_log_split(log: str) -> tuple[str, list[str]]:
    """(the strategy's output, the engine's notes)."""
    if log.startswith(f"{ENGINE_MARKER}\n"):
        return "", log[len(ENGINE_MARKER) + 1 :].splitlines()
    output, marker, engine = log.rpartition(f"\n{ENGINE_MARKER}\n")
    if not marker:
        return log, []
    return output, engine.splitlines()


def engine_notes_for_author(notes: Sequence[str]) -> list[str]:
    """The notes without the ids of the subscriptions that got no trade: those belong to
    their subscribers; the author reads how many, and why."""
    return [_NAMED_SUBSCRIPTIONS.sub(r"\1", note) for note in notes]
