"""A subscription's trade counters, moved by the execution engine.

`total_trades` counts the positions a subscription has taken (it moves when a trade
opens); `winning_trades`, `losing_trades` and `total_pnl` move when a trade closes (a
trade closed at exactly zero PnL is neither a win nor a loss). Every change is one
UPDATE that adds to the stored values in SQL (F() expressions, or on PostgreSQL the same
additions joined to unnest() arrays), whatever the number of subscriptions: no
read-modify-write, no N+1.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Value, When

from .models import StrategySubscription


def subscription_stats_apply_opened(*, subscription_ids: Iterable | QuerySet) -> int:
    """One more trade for each subscription listed (each at most once per call). A
    queryset of ids (e.g. the subscriptions of an execution's trades) stays a subquery."""
    ids = subscription_ids if isinstance(subscription_ids, QuerySet) else list(subscription_ids)
    if not isinstance(ids, QuerySet) and connection.vendor == "postgresql":
        # One array parameter, however many ids (IN (...) would bind each one).
        table = connection.ops.quote_name(StrategySubscription._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET total_trades = total_trades + 1 WHERE id = ANY(%s)",  # noqa: S608
                [ids],
            )
            return cursor.rowcount
    return StrategySubscription.objects.filter(id__in=ids).update(
        total_trades=F("total_trades") + 1
    )


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

    if connection.vendor == "postgresql":
        return _apply_closed_postgres(wins, losses, pnl_sum)

    def per_subscription(values: dict, output_field):
        return Case(
            *(When(id=key, then=Value(value)) for key, value in values.items()),
            default=Value(0),
            output_field=output_field,
        )

    changes = {
        "total_pnl": F("total_pnl")
        + per_subscription(pnl_sum, DecimalField(max_digits=24, decimal_places=8))
    }
    if wins:
        changes["winning_trades"] = F("winning_trades") + per_subscription(wins, IntegerField())
    if losses:
        changes["losing_trades"] = F("losing_trades") + per_subscription(losses, IntegerField())
    return StrategySubscription.objects.filter(id__in=list(pnl_sum)).update(**changes)


def _apply_closed_postgres(wins: dict, losses: dict, pnl_sum: dict) -> int:
    """The same UPDATE joined to unnest(arrays): one statement, four parameters, however
    many subscriptions (a CASE WHEN over 10,000 of them takes seconds to plan)."""
    ids = list(pnl_sum)
    table = connection.ops.quote_name(StrategySubscription._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS s
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
