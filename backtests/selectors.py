"""Reads of backtests: a user's own backtests, and which strategies they may backtest."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from strategies.models import Strategy
from strategies.selectors import NOT_FOUND as STRATEGY_NOT_FOUND
from tradeplatform.api import ApplicationError

from .models import Backtest

BACKTEST_NOT_FOUND = "Backtest not found"


def strategy_for_backtest(*, user, strategy_id) -> Strategy:
    """A strategy `user` may backtest: any of their own (active or not), or someone
    else's public active one (its code never leaves the server). Anything else is not
    found, as if it did not exist."""
    try:
        strategy = (
            Strategy.objects.filter(Q(user=user) | Q(is_public=True, is_active=True))
            .filter(id=strategy_id)
            .first()
        )
    except DjangoValidationError:  # a malformed id
        strategy = None
    if strategy is None:
        raise ApplicationError(STRATEGY_NOT_FOUND, status_code=404)
    return strategy


def backtest_list(*, user, strategy: Strategy) -> QuerySet[Backtest]:
    """The user's own backtests of a strategy, newest first (results are per user)."""
    return Backtest.objects.filter(user=user, strategy=strategy).order_by("-created_at", "-id")


def backtest_get(*, user, strategy: Strategy, backtest_id) -> Backtest:
    try:
        backtest = backtest_list(user=user, strategy=strategy).filter(id=backtest_id).first()
    except DjangoValidationError:
        backtest = None
    if backtest is None:
        raise ApplicationError(BACKTEST_NOT_FOUND, status_code=404)
    return backtest
