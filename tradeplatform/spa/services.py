"""Writes behind the SPA's pages: its broker key form and its close-position button.
Each calls the apps' own services; what is particular to the SPA is written down here."""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerCredential
from accounts.services import (
    broker_credential_check,
    broker_credential_create,
    broker_credential_deactivate,
)
from executions.balances import BalanceUnavailable, balance_snapshot, snapshot_stale
from executions.models import Trade
from executions.orders import orders_enqueue, trades_close_request
from tradeplatform.api import ApplicationError

from .selectors import credential_newest_active, trade_current_price

NO_CREDENTIAL = "No active broker credentials found. Please connect your broker first."
POSITION_NOT_FOUND = "Position not found"


def spa_broker() -> str:
    """The broker the SPA's key form connects (`SPA_BROKER`: paper or a ccxt id)."""
    return settings.SPA_BROKER.strip().lower()


def broker_keys_store(*, user, api_key: str, api_secret: str) -> BrokerCredential:
    """A new credential for the SPA's broker (sealed as every credential is); the
    earlier ones stay, as subscriptions may trade with them."""
    return broker_credential_create(
        user=user, broker_name=spa_broker(), api_key=api_key.strip(), api_secret=api_secret
    )


@transaction.atomic
def broker_keys_remove(*, user) -> int:
    """Deactivate all the user's active credentials, or none: refused while an active
    (or paused) subscription trades with one of them."""
    credentials = list(BrokerCredential.objects.filter(user=user, is_active=True))
    if not credentials:
        raise ApplicationError("No broker credentials found to delete", status_code=404)
    for credential in credentials:
        broker_credential_deactivate(credential=credential)
    return len(credentials)


def broker_connection_test(*, api_key: str, api_secret: str) -> None:
    """Check a key pair before it is stored, as storing it does (accounts services). A
    paper account needs none. The keys come in the request: nothing stored is opened."""
    broker = spa_broker()
    if broker != BrokerCredential.PAPER:
        broker_credential_check(broker_name=broker, api_key=api_key, api_secret=api_secret)


def _balance_answer(*, currency: str, free: Decimal, total: Decimal, as_of, stale: bool) -> dict:
    locked = max(total - free, Decimal(0))
    return {
        "total_available": free,
        "usdt_available": free if currency == "USDT" else Decimal(0),
        "inr_available": free if currency == "INR" else Decimal(0),
        "wallets": [{"currency": currency, "available": free, "locked": locked, "total": total}],
        "currency": currency,
        "as_of": as_of,
        "stale": stale,
    }


def broker_balance(*, user, credential_id=None) -> dict:
    """The available balance of one of the user's active accounts (the newest unless
    `credential_id` names one). A paper account has `SPA_PAPER_BALANCE` USDT. An exchange
    account's is its balance snapshot (executions.balances: the web opens no key), with
    its time, `stale` when no fresher one could be read; 503 when it was never read."""
    credential = credential_newest_active(user=user, credential_id=credential_id)
    if credential is None:
        raise ApplicationError(NO_CREDENTIAL, status_code=404)
    now = timezone.now()
    if credential.broker_name == BrokerCredential.PAPER:
        available = Decimal(settings.SPA_PAPER_BALANCE)
        return _balance_answer(
            currency="USDT", free=available, total=available, as_of=now, stale=False
        )
    try:
        snapshot = balance_snapshot(credential=credential)
    except BalanceUnavailable as exc:
        raise ApplicationError(str(exc), status_code=503) from exc
    free = snapshot.free or Decimal(0)
    return _balance_answer(
        currency=snapshot.currency,
        free=free,
        total=free if snapshot.total is None else snapshot.total,
        as_of=snapshot.taken_at,
        stale=snapshot_stale(snapshot, now=now),
    )


@transaction.atomic
def position_close(*, user, position_id) -> Trade:
    """Close one of the user's open trades now through the orders worker: a reduce-only
    market order (reason EXIT) priced at the platform's current price (the newest stored
    close of its market: where the paper exchange fills it). The trade answers CLOSING;
    its fills close it, with its PnL and the subscription's figures, as any exit."""
    trade = (
        Trade.objects.select_for_update(of=("self",))
        .filter(id=position_id, subscription__user=user)
        .first()
    )
    if trade is None:
        raise ApplicationError(POSITION_NOT_FOUND, status_code=404)
    if trade.status != Trade.Status.OPEN:
        raise ApplicationError("Position is already closed", status_code=409)
    price = trade_current_price(trade=trade)
    if price is None:
        raise ApplicationError(f"No market price for {trade.symbol} yet", status_code=409)
    order_ids = trades_close_request(
        trades=[trade], reason=Trade.ExitReason.EXIT, prices={trade.id: price}
    )
    if not order_ids:  # the engine closed it first
        raise ApplicationError("Position is already closed", status_code=409)
    orders_enqueue(order_ids)
    trade.refresh_from_db()
    trade.exit_price = price  # what it is priced at; the fills decide
    return trade
