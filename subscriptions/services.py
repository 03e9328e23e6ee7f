"""Writes to subscriptions, shared by the API and the admin's operator actions.

State changes are conditional UPDATEs that must touch exactly one row (a claim), so two
concurrent cancels move the strategy's subscriber count once, never twice. The strategy's
columns and the candle registry are the strategies app's business: its services are called.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import BrokerCredential
from accounts.services import user_quota_check
from accounts.signals import positions_flatten_requested
from strategies.enums import TradeStatus
from strategies.locks import strategy_lock
from strategies.selectors import strategy_get_for_subscription
from strategies.services import strategy_subscriber_added, strategy_subscriber_removed
from tradeplatform.api import ApplicationError

from .models import StrategySubscription
from .risk import (
    DEFAULT_LEVERAGE,
    DEFAULT_MAX_DAILY_LOSS,
    DEFAULT_MAX_POSITIONS,
    DEFAULT_RISK_PER_TRADE,
    RISK_FIELDS,
)

ALREADY_SUBSCRIBED = "Already subscribed to this strategy"
UPDATABLE_FIELDS = (*RISK_FIELDS, "broker_credential_id")
CREDENTIAL_NOT_FOUND = "Broker credential not found"


def _active_credential(*, user, broker_credential_id) -> BrokerCredential:
    credential = (
        BrokerCredential.objects.select_for_update()
        .filter(id=broker_credential_id, user=user, is_active=True)
        .first()
    )
    if credential is None:
        message = "Broker credential not found or inactive"
        raise ApplicationError(message, details={"broker_credential_id": [message]})
    return credential


def _check_minimum_capital(*, strategy, capital: Decimal) -> None:
    if strategy.min_capital is not None and capital < strategy.min_capital:
        message = (
            f"capital must be at least {strategy.min_capital.normalize():f} "
            "(the strategy's minimum capital)"
        )
        raise ApplicationError(message, details={"capital": [message]})


_DEFAULTS = {
    "risk_per_trade": DEFAULT_RISK_PER_TRADE,
    "leverage": DEFAULT_LEVERAGE,
    "max_positions": DEFAULT_MAX_POSITIONS,
    "max_daily_loss": DEFAULT_MAX_DAILY_LOSS,
}


def _setting(strategy, name: str, given):
    """The subscriber's value, else the author's recommendation, else the default."""
    for value in (given, strategy.recommended(name)):
        if value is not None:
            return value
    return _DEFAULTS[name]


def subscription_create(
    *,
    user,
    strategy_id,
    broker_credential_id,
    capital: Decimal,
    risk_per_trade: Decimal | None = None,
    leverage: int | None = None,
    max_positions: int | None = None,
    max_daily_loss: Decimal | None = None,
    sl_atr_multiplier: Decimal | None = None,
    tp_atr_multiplier: Decimal | None = None,
) -> StrategySubscription:
    """A risk setting left as None takes the strategy's recommendation, else the
    default of `subscriptions.risk`; the capital must reach the strategy's minimum."""
    given = {
        "risk_per_trade": risk_per_trade,
        "leverage": leverage,
        "max_positions": max_positions,
        "max_daily_loss": max_daily_loss,
    }
    try:
        with transaction.atomic():
            # The strategy row lock orders this against a concurrent delete of the strategy.
            strategy = strategy_get_for_subscription(user=user, strategy_id=strategy_id)
            credential = _active_credential(user=user, broker_credential_id=broker_credential_id)
            _check_minimum_capital(strategy=strategy, capital=capital)
            risk = {name: _setting(strategy, name, value) for name, value in given.items()}
            if StrategySubscription.objects.filter(
                user=user, strategy=strategy, is_active=True
            ).exists():
                raise ApplicationError(ALREADY_SUBSCRIBED, status_code=409)
            # Paused subscriptions count (they resume without asking); cancelled ones do not.
            user_quota_check(
                user=user,
                used=StrategySubscription.objects.filter(user=user, is_active=True),
                limit=settings.MAX_SUBSCRIPTIONS_PER_USER,
                label="Subscription",
            )
            subscription = StrategySubscription.objects.create(
                user=user,
                strategy=strategy,
                broker_credential=credential,
                capital=capital,
                **risk,
                sl_atr_multiplier=sl_atr_multiplier,
                tp_atr_multiplier=tp_atr_multiplier,
            )
            strategy_subscriber_added(strategy_id=strategy.id)
    except IntegrityError as exc:  # the partial unique constraint caught a concurrent twin
        raise ApplicationError(ALREADY_SUBSCRIBED, status_code=409) from exc
    subscription.strategy = strategy
    return subscription


def _claim(subscription: StrategySubscription, *, where: dict, values: dict) -> bool:
    """One conditional UPDATE; True when it changed this subscription's row."""
    updated = StrategySubscription.objects.filter(id=subscription.id, **where).update(**values)
    if updated == 1:
        for field, value in values.items():
            setattr(subscription, field, value)
    return updated == 1


def _refuse_state(subscription: StrategySubscription, *, paused_message: str) -> None:
    subscription.refresh_from_db(fields=["is_active", "is_paused"])
    if not subscription.is_active:
        raise ApplicationError("Subscription is cancelled")
    raise ApplicationError(paused_message)


def subscription_pause(*, subscription: StrategySubscription) -> StrategySubscription:
    if not _claim(
        subscription,
        where={"is_active": True, "is_paused": False},
        values={"is_paused": True, "paused_at": timezone.now()},
    ):
        _refuse_state(subscription, paused_message="Subscription is already paused")
    return subscription


def subscription_resume(*, subscription: StrategySubscription) -> StrategySubscription:
    if not _claim(
        subscription,
        where={"is_active": True, "is_paused": True},
        values={"is_paused": False, "paused_at": None, "pause_reason": ""},
    ):
        _refuse_state(subscription, paused_message="Subscription is not paused")
    return subscription


def subscription_flatten(*, subscription: StrategySubscription) -> StrategySubscription:
    """An operator closes the subscription's open positions at market, now, through the
    orders worker; the subscription keeps running."""
    positions_flatten_requested.send(
        sender=StrategySubscription, subscription_ids=[subscription.id]
    )
    return subscription


@dataclass(frozen=True)
class Cancellation:
    """What a cancel did, for the answer: the subscription and its open trades."""

    subscription: StrategySubscription
    open_trades: int
    kept: bool

    @property
    def message(self) -> str:
        if not self.open_trades:
            return "Subscription cancelled"
        strategy = self.subscription.strategy
        if self.kept:
            return (
                f"Subscription cancelled; its {self.open_trades} open trade(s) stay open and "
                "follow the strategy (stop-loss, take-profit, its exit signals) until they close"
            )
        return (
            f"Subscription cancelled; its {self.open_trades} open trade(s) close at the next "
            f"{strategy.symbol}:{strategy.resolution} candle close"
        )


@transaction.atomic
def subscription_cancel(
    *, subscription: StrategySubscription, keep_open_trades: bool = False
) -> Cancellation:
    """Soft cancel. Only the call whose UPDATE claims the active row moves the strategy's
    subscriber count (and, for the last subscriber, unregisters the strategy, unless open
    trades keep it running).

    Its open trades close at the strategy's next candle close, at that close's price (the
    engine does it, reason CANCELLED: never at an older price the subscriber could pick),
    or, with `keep_open_trades`, stay open and follow the strategy until they close."""
    # The engine's lock: a close writing trades for this subscription ends first, so the
    # answer counts them.
    strategy_lock(strategy_id=subscription.strategy_id)
    if not _claim(
        subscription,
        where={"is_active": True},
        values={
            "is_active": False,
            "unsubscribed_at": timezone.now(),
            "keep_open_trades": keep_open_trades,
        },
    ):
        raise ApplicationError("Subscription is already cancelled")
    strategy_subscriber_removed(strategy_id=subscription.strategy_id)
    open_trades = subscription.trades.filter(status=TradeStatus.OPEN).count()
    return Cancellation(subscription, open_trades, keep_open_trades)


def _credential_for_move(*, subscription: StrategySubscription, broker_credential_id):
    """The credential a subscription moves to: the subscriber's own (any other answers 404,
    as if it did not exist) and active; refused while the subscription has open trades,
    whose positions live on the account of the credential that opened them."""
    credential = (
        BrokerCredential.objects.select_for_update()
        .filter(id=broker_credential_id, user_id=subscription.user_id)
        .first()
    )
    if credential is None:
        raise ApplicationError(CREDENTIAL_NOT_FOUND, status_code=404)
    if not credential.is_active:
        message = "Broker credential is inactive"
        raise ApplicationError(message, details={"broker_credential_id": [message]})
    # The reverse relation declared by the executions app (Trade.subscription).
    if subscription.trades.filter(status=TradeStatus.OPEN).exists():
        message = "Cannot change the broker credential while the subscription has open trades"
        raise ApplicationError(message, details={"broker_credential_id": [message]})
    return credential


@transaction.atomic
def subscription_update(*, subscription: StrategySubscription, data: dict) -> StrategySubscription:
    """Change the risk settings and the broker credential (a partial body); nothing else
    is writable."""
    unknown = set(data) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ApplicationError(f"Not writable: {', '.join(sorted(unknown))}")
    locked = (
        StrategySubscription.objects.select_for_update(of=("self",))
        .select_related("strategy")
        .get(id=subscription.id)
    )
    if not locked.is_active:
        raise ApplicationError("Subscription is cancelled")
    if "capital" in data:
        _check_minimum_capital(strategy=locked.strategy, capital=data["capital"])
    if "broker_credential_id" in data:
        data = {
            **data,
            "broker_credential_id": _credential_for_move(
                subscription=locked, broker_credential_id=data["broker_credential_id"]
            ).id,
        }
    for field, value in data.items():
        setattr(locked, field, value)
    if data:
        locked.save(update_fields=sorted(data))
    for field in data:
        setattr(subscription, field, getattr(locked, field))
    return subscription
