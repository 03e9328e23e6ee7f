"""A subscription's trade counters, moved by the execution engine.

`total_trades` counts the positions a subscription has taken (it moves when a trade
opens); `winning_trades`, `losing_trades` and `total_pnl` move when a trade closes (a
trade closed at exactly zero PnL is neither a win nor a loss). Every change is one
UPDATE that adds to the stored values in SQL, joined to array parameters, whatever the
number of subscriptions: no read-modify-write, no N+1, and one parameter per array
however many ids (IN (...) would bind each one; a CASE WHEN over 10,000 subscriptions
takes seconds to plan).
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from .models import StrategySubscription


def _table() -> str:
    return connection.ops.quote_name(StrategySubscription._meta.db_table)


def subscription_stats_apply_opened(*, subscription_ids: Iterable) -> int:
    """One more trade for each subscription listed (each at most once per call)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table()} SET total_trades = total_trades + 1 WHERE id = ANY(%s)",  # noqa: S608
            [list(subscription_ids)],
        )
        return cursor.rowcount


def subscription_stats_apply_closed_trades(*, closed: Iterable[tuple[object, Decimal]]) -> int:
    """Add closed trades, given as (subscription_id, pnl) pairs, to their subscriptions'
    win/loss counts and total PnL, in a single UPDATE."""
    wins: dict[object, int] = defaultdict(int)
    losses: dict[object, int] = defaultdict(int)
    pnl_sum: dict[object, Decimal] = defaultdict(Decimal)
    for subscription_id, pnl in closed:
        pnl_sum[subscription_id] += pnl
        if pnl > 0:
            wins[subscription_id] += 1
        elif pnl < 0:
            losses[subscription_id] += 1
    if not pnl_sum:
        return 0
    ids = list(pnl_sum)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {_table()} AS s
            SET winning_trades = s.winning_trades + v.wins,
                losing_trades = s.losing_trades + v.losses,
                total_pnl = s.total_pnl + v.pnl
            FROM unnest(%s::uuid[], %s::integer[], %s::integer[], %s::numeric[])
                 AS v(id, wins, losses, pnl)
            WHERE s.id = v.id
            """,  # noqa: S608 (the table name comes from the model)
            [
                ids,
                [wins.get(key, 0) for key in ids],
                [losses.get(key, 0) for key in ids],
                [pnl_sum[key] for key in ids],
            ],
        )
        return cursor.rowcount
