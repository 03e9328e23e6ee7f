"""Ownership and fence: a (strategy, candle close) ends with exactly one row, written by
one run, however often it is delivered and whoever dies on the way.

Rows. The tick writes the row of every expected (strategy, close) PENDING, with the
deadline past which the close may no longer trade (`execution_expect`); a run makes it
RUNNING under a token of its own (`execution_claim`: the row is unique per strategy and
close, so an INSERT or an UPDATE decides), and only a run still holding that token on a
RUNNING row may end it (`execution_finish`, a conditional UPDATE). The reaper, or a later
close giving this one up, changes the status: the run then writes nothing (`Fenced`).

Ownership. A run holds a session-level PostgreSQL advisory lock on its (strategy, close)
from its claim to its end (`close_lock`). PostgreSQL drops it when the run's connection
dies (a SIGKILLed worker), so a delivery that cannot take it leaves the close to its live
owner, which will write the row; one that can take it while the row is still RUNNING
knows the owner is dead and runs the close again under a new token (the broker
re-delivers a killed run: `acks_late` with `reject_on_worker_lost`). The Redis lock this
replaces outlived a dead holder for its whole timeout and bounced the re-delivery, so
the close had no run and, when the run had died before its INSERT, no row.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from uuid import uuid4

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from executions.models import StrategyExecution

Status = StrategyExecution.Status
UNFINISHED = (Status.PENDING, Status.RUNNING)


class Fenced(Exception):
    """This run no longer owns its row (reaped, or given up by a later close)."""


def close_lock_key(*, strategy_id, candle_close: datetime) -> int:
    """The (strategy, close) lock's key: 64 bits of a hash of the strategy id and the
    close's instant (whatever its time zone), PostgreSQL's signed bigint."""
    text = f"{strategy_id}:{candle_close.timestamp()}".encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


def _advisory(function: str, key: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [key])
        return bool(cursor.fetchone()[0])


@contextmanager
def close_lock(*, strategy_id, candle_close: datetime) -> Iterator[bool]:
    """Try the (strategy, close) lock once; yields whether this session got it, and
    releases it at the end."""
    key = close_lock_key(strategy_id=strategy_id, candle_close=candle_close)
    held = _advisory("pg_try_advisory_lock", key)
    try:
        yield held
    finally:
        if held:
            _advisory("pg_advisory_unlock", key)


def owner_alive(row: StrategyExecution) -> bool:
    """Whether a live run (another session) holds the close lock of `row`."""
    with close_lock(strategy_id=row.strategy_id, candle_close=row.candle_close) as free:
        return not free


def execution_expect(
    *,
    strategy_ids: Iterable,
    symbol: str,
    resolution: int,
    candle_close: datetime,
    deadline: datetime,
) -> None:
    """The tick's record of a close: one PENDING row per strategy, in one INSERT (a row
    there already, from a second beat on the same tick or an early run, stays)."""
    StrategyExecution.objects.bulk_create(
        (
            StrategyExecution(
                strategy_id=strategy_id,
                symbol=symbol,
                resolution=resolution,
                candle_close=candle_close,
                status=Status.PENDING,
                deadline=deadline,
            )
            for strategy_id in strategy_ids
        ),
        ignore_conflicts=True,
    )


def execution_claim(
    *, strategy_id, symbol: str, resolution: int, candle_close: datetime
) -> StrategyExecution | None:
    """This run's RUNNING row, under a new token; None when the row is final already.
    The caller holds the close lock, so a RUNNING row found here lost its owner."""
    token = uuid4()
    try:
        # A savepoint: a duplicate's IntegrityError must not break a caller's transaction.
        with transaction.atomic():
            return StrategyExecution.objects.create(
                strategy_id=strategy_id,
                symbol=symbol,
                resolution=resolution,
                candle_close=candle_close,
                status=Status.RUNNING,
                run_token=token,
            )
    except IntegrityError:
        pass
    rows = StrategyExecution.objects.filter(
        strategy_id=strategy_id, candle_close=candle_close, status__in=UNFINISHED
    )
    if not rows.update(status=Status.RUNNING, run_token=token, started_at=timezone.now()):
        return None
    return StrategyExecution.objects.get(strategy_id=strategy_id, candle_close=candle_close)


def execution_finish(execution: StrategyExecution, fields: dict) -> None:
    """End the row with `fields` if it is still RUNNING and this run's; else `Fenced`.
    In a savepoint: a value the database refuses leaves the caller's transaction usable."""
    with transaction.atomic():
        updated = StrategyExecution.objects.filter(
            id=execution.id, status=Status.RUNNING, run_token=execution.run_token
        ).update(**fields)
    if not updated:
        raise Fenced
    for name, value in fields.items():
        setattr(execution, name, value)


def execution_give_up(row: StrategyExecution, message: str, *, now: datetime) -> bool:
    """SKIPPED with `message`, if the row is still as it was read (status and token):
    its run, if it ever resumes, is fenced off. True when it was."""
    return bool(
        StrategyExecution.objects.filter(
            id=row.id, status=row.status, run_token=row.run_token
        ).update(status=Status.SKIPPED, error_message=message, completed_at=now)
    )
