"""Orders: from a NEW row to the exchange, and the exchange's answers back into the book.

The candle-close transaction writes trades with their ENTRY orders NEW (`entry_orders_create`)
and closes by writing reduce-only market orders (`trades_close_request`); it never talks to
an exchange. After commit, `orders_enqueue` hands the ids to the `orders` queue, whose
worker (the only process holding the broker private key) runs `orders_process`:

1. **Before sending** (entries): the quantity is rounded down to the market's amount step
   (the one rounding of a quantity, here), then the minimum amount, the minimum notional
   and the free balance (notional / leverage on a contract) are checked; a refusal leaves
   the order REJECTED with the reason, never sent, and the trade CANCELLED.
2. **Claim, then send.** A conditional UPDATE moves the row NEW → SUBMITTED (one sender per
   row, whatever the deliveries); the request carries the row's client order id.
3. **Ambiguity** (timeout, reset, 5xx, 429): the row stays SUBMITTED and is looked up by its
   client order id later (`order_sync`); only after `ORDERS_NOT_FOUND_CONFIRMATIONS`
   lookups that find nothing is it sent again, with the same client order id, claimed on
   its attempt count. An order the exchange acknowledged is never sent again.
4. **Booking** (`order_book`): status, filled quantity, average price, fee and exchange id
   from the exchange; the trade's entry price and quantity from the entry's fills; when
   the entry has filled, reduce-only STOP_MARKET / TAKE_PROFIT_MARKET protections go to
   the exchange where the broker supports them (else the engine watches the levels); a
   closing fill closes the trade (exit price from the fills, PnL net of every order's fee)
   and cancels its sibling protection.

Exits cancel the trade's protections first (a protection that filled meanwhile closes the
trade, and the exit is then not sent). An authentication failure deactivates the
credential and pauses its subscriptions with the reason (`credential_auth_failed`).
Reconciliation (`credential_reconcile`) and the start-up pass live at the bottom.
"""

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import BrokerCredential
from executions.brokers import (
    BrokerAmbiguous,
    BrokerAuthFailed,
    BrokerRejected,
    ExchangeOrder,
    OrderRequest,
    broker_forget,
    get_broker,
)
from executions.models import Order, Trade, client_order_id
from executions.trading import rules
from subscriptions.models import StrategySubscription
from subscriptions.trade_stats import subscription_stats_apply_closed_trades

logger = logging.getLogger(__name__)

Status = Order.Status
Purpose = Order.Purpose
CLOSING_PURPOSES = (Purpose.STOP_LOSS, Purpose.TAKE_PROFIT, Purpose.EXIT)
PROTECTIONS = (Purpose.STOP_LOSS, Purpose.TAKE_PROFIT)
_PURPOSE_OF_REASON = {
    Trade.ExitReason.STOP_LOSS: Purpose.STOP_LOSS,
    Trade.ExitReason.TAKE_PROFIT: Purpose.TAKE_PROFIT,
}
_REASON_OF_PURPOSE = {
    Purpose.STOP_LOSS: Trade.ExitReason.STOP_LOSS,
    Purpose.TAKE_PROFIT: Trade.ExitReason.TAKE_PROFIT,
    Purpose.EXIT: Trade.ExitReason.EXIT,
}


def _opposite(side: str) -> str:
    return Trade.Side.SELL if side == Trade.Side.BUY else Trade.Side.BUY


# -- writing orders (inside the caller's transaction) ----------------------------------


def orders_insert(orders: list[Order]) -> None:
    """Write new order rows in one COPY statement, as the engine writes trades."""
    if not orders:
        return
    for order in orders:
        order.client_order_id = client_order_id(order.id)
    fields = Order._meta.concrete_fields
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(Order._meta.db_table)} ({names}) FROM STDIN") as copy,
    ):
        for order in orders:
            copy.write_row(
                [
                    field.get_db_prep_save(field.pre_save(order, True), connection)
                    for field in fields
                ]
            )


def entry_orders_create(*, execution, entries: list[tuple]) -> list:
    """One NEW market ENTRY order per (trade id, credential id, side, quantity, price);
    answers the order ids (for `orders_enqueue`)."""
    orders = [
        Order(
            trade_id=trade_id,
            execution=execution,
            credential_id=credential_id,
            purpose=Purpose.ENTRY,
            symbol=execution.symbol,
            side=side,
            quantity=quantity,
            price=price,
        )
        for trade_id, credential_id, side, quantity, price in entries
    ]
    orders_insert(orders)
    return [order.id for order in orders]


def trades_close_request(
    *, trades: list[Trade], reason: str, prices: dict, execution=None, closed_at=None
) -> list:
    """Close open trades through the exchange: each becomes CLOSING and gets a NEW
    reduce-only market order (STOP_LOSS / TAKE_PROFIT for a watched level, else EXIT) at
    its reference price (`prices`: trade id → price). `closed_at` (default now; the
    engine gives the candle time it closes at) becomes the trade's close time when its
    fills close it. A trade whose entry was never sent is cancelled instead. Only trades
    still OPEN in the database move. Answers the ids of the orders written."""
    ids = [trade.id for trade in trades]
    claimed = set(
        Trade.objects.filter(id__in=ids, status=Trade.Status.OPEN).values_list("id", flat=True)
    )
    if not claimed:
        return []
    unsent = set(
        Order.objects.filter(
            trade_id__in=claimed, purpose=Purpose.ENTRY, status=Status.NEW
        ).values_list("trade_id", flat=True)
    )
    if unsent:
        Order.objects.filter(trade_id__in=unsent, status=Status.NEW).update(
            status=Status.CANCELLED, last_error=f"not sent: closed first ({reason})"
        )
        _trades_cancel(trade_ids=unsent, closed_at=closed_at)
    closing = [trade for trade in trades if trade.id in claimed - unsent]
    Trade.objects.filter(id__in=[t.id for t in closing], status=Trade.Status.OPEN).update(
        status=Trade.Status.CLOSING, exit_reason=reason, closed_at=closed_at or timezone.now()
    )
    credentials = dict(
        Trade.objects.filter(id__in=[t.id for t in closing]).values_list(
            "id", "subscription__broker_credential_id"
        )
    )
    orders = [
        Order(
            trade_id=trade.id,
            execution=execution,
            credential_id=credentials[trade.id],
            purpose=_PURPOSE_OF_REASON.get(reason, Purpose.EXIT),
            symbol=trade.symbol,
            side=_opposite(trade.side),
            reduce_only=True,
            quantity=trade.quantity,
            price=prices.get(trade.id),
        )
        for trade in closing
    ]
    orders_insert(orders)
    return [order.id for order in orders]


def _trades_cancel(*, trade_ids, closed_at=None) -> None:
    """Trades whose entry never filled: no position, and not counted as taken; ended at
    `closed_at` (the close that cancelled it, default now)."""
    cancelled = list(
        Trade.objects.filter(id__in=list(trade_ids))
        .exclude(status=Trade.Status.CANCELLED)
        .values_list("id", "subscription_id")
    )
    Trade.objects.filter(id__in=[trade_id for trade_id, _ in cancelled]).update(
        status=Trade.Status.CANCELLED, closed_at=closed_at or timezone.now()
    )
    for _, subscription_id in cancelled:
        StrategySubscription.objects.filter(id=subscription_id).update(
            total_trades=Greatest(F("total_trades") - 1, 0)
        )


def orders_enqueue(order_ids) -> None:
    """After the current transaction commits, hand the orders to the `orders` queue: one
    task per credential, its orders in the order given, so a subscriber whose exchange
    account is slow delays its own orders only (ids only: nothing secret in a message)."""
    ids = [str(order_id) for order_id in order_ids]
    if not ids:
        return

    def send():
        from executions.tasks import orders_submit

        credential_of = {
            str(order_id): credential_id
            for order_id, credential_id in Order.objects.filter(id__in=ids).values_list(
                "id", "credential_id"
            )
        }
        per_credential = defaultdict(list)
        for order_id in ids:
            per_credential[credential_of.get(order_id)].append(order_id)
        for credential_orders in per_credential.values():
            orders_submit.delay(credential_orders)

    transaction.on_commit(send)


# -- sending (the orders worker) ---------------------------------------------------------


def orders_process(*, order_ids) -> None:
    """Each order (of one credential) in turn; one order's failure never stops the others."""
    for order_id in order_ids:
        try:
            order_process(order_id=order_id)
        except Exception:
            logger.exception("order %s could not be processed", order_id)


def _load(order_id) -> Order:
    return Order.objects.select_related("trade__subscription", "credential").get(id=order_id)


def order_process(*, order_id) -> Order:
    """Send a NEW order, or look a SUBMITTED one up; a final one is left alone."""
    order = _load(order_id)
    if order.status == Status.NEW:
        _send(order)
    elif order.status in (Status.SUBMITTED, Status.PARTIALLY_FILLED):
        order_sync(order=order)
    return order


def order_request(order: Order) -> OrderRequest:
    """What the broker is asked for this row."""
    return OrderRequest(
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        quantity=order.quantity,
        client_order_id=order.client_order_id,
        reduce_only=order.reduce_only,
        trigger_price=order.trigger_price,
        reference_price=order.price,
    )


def _finish_unsent(order: Order, *, status: str, reason: str) -> bool:
    """A NEW order that will not be sent: REJECTED (refused by the rules) or CANCELLED
    (nothing left to do). Answers whether this call moved it."""
    moved = Order.objects.filter(id=order.id, status=Status.NEW).update(
        status=status, last_error=reason[:2000], updated_at=timezone.now()
    )
    order.status, order.last_error = status, reason
    return bool(moved)


def _entry_refusal(order: Order, broker) -> str:
    """Round the entry's quantity down to the step; the reason it may not go out, or ''."""
    rules = broker.rules(order.symbol)
    if not rules.contract and order.side == Trade.Side.SELL:
        # A spot account cannot hold a short: the sell would sell the subscriber's own coins.
        return "not sent: a short (SELL entry) cannot be opened on a spot market"
    order.quantity = rules.quantity_down(order.quantity)
    price = order.price or Decimal(0)
    notional = order.quantity * price
    if order.quantity <= 0:
        return "not sent: the quantity rounds down to zero at the market's amount step"
    if rules.min_amount is not None and order.quantity < rules.min_amount:
        return f"not sent: quantity {order.quantity} is under the minimum {rules.min_amount}"
    if rules.min_notional is not None and price and notional < rules.min_notional:
        return (
            f"not sent: notional {notional:.2f} {rules.quote} is under the minimum "
            f"{rules.min_notional} {rules.quote}"
        )
    free = broker.free_balance(rules.quote)
    if free is not None and price:
        leverage = Decimal(order.trade.subscription.leverage) if rules.contract else Decimal(1)
        needed = notional / leverage
        if needed > free:
            return (
                f"not sent: needs {needed:.2f} {rules.quote} of free balance, "
                f"the account has {free:.2f}"
            )
    return ""


def _send(order: Order) -> None:
    try:
        broker = get_broker(order.credential)
    except BrokerRejected as exc:
        _reject_unsent(order, str(exc))
        return
    trade = order.trade
    try:
        if order.purpose == Purpose.ENTRY:
            reason = _entry_refusal(order, broker)
            if reason:
                _reject_unsent(order, reason)
                return
        elif order.reduce_only and order.type == Order.Type.MARKET:
            if Order.objects.filter(
                trade=trade, purpose=Purpose.ENTRY, status__in=Order.ACTIVE
            ).exists():
                # The entry is still on its way: the exit waits for its fills.
                _process_later(order, round_=0)
                return
            protections_cancel(trade=trade, broker=broker)
            trade.refresh_from_db()
            remaining = trade_open_quantity(trade)
            if trade.status == Trade.Status.CLOSED or remaining <= 0:
                _finish_unsent(
                    order, status=Status.CANCELLED, reason="not sent: the position is closed"
                )
                return
            order.quantity = remaining
        else:  # a protection: its trigger on the market's price tick
            order.trigger_price = broker.rules(order.symbol).price_rounded(order.trigger_price)
    except BrokerAuthFailed as exc:
        _reject_unsent(order, str(exc))
        credential_auth_failed(credential=order.credential, reason=str(exc))
        return
    except BrokerAmbiguous as exc:
        # Nothing was sent (a lookup before it failed): the whole order goes again later.
        _note_error(order, str(exc))
        _process_later(order, round_=0)
        return
    claimed = Order.objects.filter(id=order.id, status=Status.NEW).update(
        status=Status.SUBMITTED,
        quantity=order.quantity,
        trigger_price=order.trigger_price,
        attempts=F("attempts") + 1,
        submitted_at=timezone.now(),
        updated_at=timezone.now(),
    )
    if claimed:  # else another delivery of this order claimed it first
        order.status = Status.SUBMITTED
        _submit(order, broker, round_=0)


def _reject_unsent(order: Order, reason: str) -> None:
    if _finish_unsent(order, status=Status.REJECTED, reason=reason):
        _after_final(order, filled=Decimal(0))


def _note_error(order: Order, message: str) -> None:
    Order.objects.filter(id=order.id).update(last_error=message[:2000], updated_at=timezone.now())
    order.last_error = message


def _process_later(order: Order, *, round_: int | None) -> None:
    """Look at the order again in ORDERS_LOOKUP_DELAY_SECONDS, at most
    ORDERS_LOOKUP_ROUNDS times in a row; past that (or with `round_` None: a pass that
    makes no follow-ups) the periodic reconciliation takes it up."""
    if round_ is None or round_ >= settings.ORDERS_LOOKUP_ROUNDS:
        return
    from executions.tasks import order_sync as order_sync_task

    transaction.on_commit(
        lambda: order_sync_task.apply_async(
            (str(order.id), round_ + 1), countdown=settings.ORDERS_LOOKUP_DELAY_SECONDS
        )
    )


def _submit(order: Order, broker, *, round_: int | None) -> None:
    """Send a claimed SUBMITTED order once and book the answer."""
    try:
        answer = broker.submit(order_request(order))
    except BrokerAuthFailed as exc:
        _book_rejection(order, str(exc))
        credential_auth_failed(credential=order.credential, reason=str(exc))
    except BrokerRejected as exc:
        _book_rejection(order, str(exc))
    except BrokerAmbiguous as exc:
        logger.warning("order %s: ambiguous answer, to be looked up: %s", order.id, exc)
        _note_error(order, str(exc))
        _process_later(order, round_=round_)
    else:
        order_book(order=order, answer=answer, broker=broker, round_=round_)


def _book_rejection(order: Order, reason: str) -> None:
    with transaction.atomic():
        moved = Order.objects.filter(id=order.id, status__in=Order.ACTIVE).update(
            status=Status.REJECTED, last_error=reason[:2000], updated_at=timezone.now()
        )
    order.status = Status.REJECTED
    if moved:
        _after_final(order, filled=order.filled_quantity)


def _after_final(order: Order, *, filled: Decimal) -> None:
    """What a final order without (more) fills means for its trade."""
    if order.purpose == Purpose.ENTRY and not filled:
        with transaction.atomic():
            _trades_cancel(trade_ids=[order.trade_id])
    elif order.purpose in PROTECTIONS and order.type != Order.Type.MARKET:
        # The exchange did not take the protection: the engine watches that level instead.
        Trade.objects.filter(id=order.trade_id).update(protected_on_exchange=False)
    elif order.reduce_only and order.type == Order.Type.MARKET:
        # A refused exit: the trade stays open on the book (and watched); reconciliation
        # compares it with the exchange's position.
        Trade.objects.filter(id=order.trade_id, status=Trade.Status.CLOSING).update(
            status=Trade.Status.OPEN, closed_at=None, exit_reason=""
        )


def order_sync(*, order: Order, broker=None, round_: int | None = 0) -> Order:
    """Ask the exchange for a SUBMITTED order by its client order id and book the answer.
    Not found: counted; after ORDERS_NOT_FOUND_CONFIRMATIONS misses an order the exchange
    never acknowledged is sent again (same client id), claimed on its attempt count."""
    broker = broker or get_broker(order.credential)
    try:
        answer = broker.fetch(order_request(order))
    except BrokerAuthFailed as exc:
        credential_auth_failed(credential=order.credential, reason=str(exc))
        return order
    except (BrokerAmbiguous, BrokerRejected) as exc:
        _note_error(order, str(exc))
        _process_later(order, round_=round_)
        return order
    if answer is not None:
        order_book(order=order, answer=answer, broker=broker, round_=round_)
        return order
    missed = order.missed_lookups + 1
    if missed < settings.ORDERS_NOT_FOUND_CONFIRMATIONS or order.exchange_order_id:
        Order.objects.filter(id=order.id).update(missed_lookups=missed)
        order.missed_lookups = missed
        if not order.exchange_order_id:
            _process_later(order, round_=round_)
        return order
    resend = Order.objects.filter(
        id=order.id, status=Status.SUBMITTED, attempts=order.attempts, exchange_order_id=""
    ).update(attempts=F("attempts") + 1, missed_lookups=0, submitted_at=timezone.now())
    if resend:
        logger.warning(
            "order %s: not on the exchange after %d lookups, sent again", order.id, missed
        )
        order.attempts += 1
        order.missed_lookups = 0
        _submit(order, broker, round_=round_)
    return order


def order_book(*, order: Order, answer: ExchangeOrder, broker, round_: int | None = None) -> None:
    """Store the exchange's account of an order and move its trade accordingly."""
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(id=order.id)
        if locked.status in Order.FINAL:
            return  # booked already (another delivery)
        locked.status = answer.status
        locked.filled_quantity = answer.filled
        locked.average_price = answer.average_price
        locked.fee = answer.fee
        locked.exchange_order_id = answer.exchange_order_id or locked.exchange_order_id
        locked.missed_lookups = 0
        locked.last_error = ""
        if answer.status == Status.FILLED:
            locked.filled_at = timezone.now()
        locked.save(update_fields=_BOOKED_FIELDS)
        for name in ("status", "filled_quantity", "average_price", "fee", "exchange_order_id"):
            setattr(order, name, getattr(locked, name))
        trade = Trade.objects.select_for_update().get(id=locked.trade_id)
        follow_up = _trade_apply(trade, locked, broker)
        if follow_up == "protect":
            orders_enqueue(_protections_create(trade, credential_id=locked.credential_id))
    if locked.status in Order.ACTIVE and locked.type == Order.Type.MARKET:
        _process_later(locked, round_=round_)  # a market order still filling: look again
    if follow_up == "closed":
        protections_cancel(trade=trade, broker=broker)


_BOOKED_FIELDS = (
    "status",
    "filled_quantity",
    "average_price",
    "fee",
    "exchange_order_id",
    "missed_lookups",
    "last_error",
    "filled_at",
    "updated_at",
)


def _fees(trade: Trade) -> Decimal:
    return Order.objects.filter(trade=trade).aggregate(total=Sum("fee"))["total"] or Decimal(0)


def _trade_apply(trade: Trade, order: Order, broker) -> str:
    """Move the (locked) trade after its order's fills; answers the follow-up: "protect"
    (place protections), "closed" (cancel what protects it) or ""."""
    if order.purpose == Purpose.ENTRY:
        if order.filled_quantity:
            trade.quantity = order.filled_quantity
            trade.entry_price = order.average_price or trade.entry_price
            trade.fees = _fees(trade)
            trade.save(update_fields=["quantity", "entry_price", "fees"])
        if order.status in Order.FINAL and not order.filled_quantity:
            _trades_cancel(trade_ids=[trade.id])
            return ""
        done = order.status in Order.FINAL
        if done and trade.status == Trade.Status.OPEN and broker.native_protections:
            return "protect"
        return ""
    if order.purpose not in CLOSING_PURPOSES or trade.status == Trade.Status.CLOSED:
        return ""
    if not order.filled_quantity and order.type != Order.Type.MARKET:
        return ""  # a protection resting (or ended) unfilled: nothing closed
    closing = Order.objects.filter(trade=trade, purpose__in=CLOSING_PURPOSES, filled_quantity__gt=0)
    exited = sum((o.filled_quantity for o in closing), Decimal(0))
    if exited < trade.quantity:
        if order.status in Order.FINAL and order.type == Order.Type.MARKET:
            _after_final(order, filled=order.filled_quantity)  # an exit that ended short
        return ""
    value = sum((o.filled_quantity * o.average_price for o in closing), Decimal(0))
    # The volume-weighted fill; the rounding named (ccxt sets its thread's context to half-up).
    exit_price = (value / exited).quantize(rules.PRICE_STEP, rounding=ROUND_HALF_EVEN)
    trade.fees = _fees(trade)
    trade.exit_price = exit_price
    trade.exit_reason = trade.exit_reason or _REASON_OF_PURPOSE[order.purpose]
    if order.purpose in PROTECTIONS and order.type != Order.Type.MARKET:
        trade.exit_reason = _REASON_OF_PURPOSE[order.purpose]  # the exchange's protection
    trade.pnl = rules.pnl(trade.side, trade.quantity, trade.entry_price, exit_price) - trade.fees
    trade.status = Trade.Status.CLOSED
    trade.closed_at = trade.closed_at or timezone.now()  # the engine's candle time, if it decided
    trade.save(update_fields=["fees", "exit_price", "exit_reason", "pnl", "status", "closed_at"])
    subscription_stats_apply_closed_trades(closed=[(trade.subscription_id, trade.pnl)])
    return "closed"


def trade_open_quantity(trade: Trade) -> Decimal:
    """What of the trade's position is still held: its filled entry less closing fills."""
    exited = Order.objects.filter(trade=trade, purpose__in=CLOSING_PURPOSES).aggregate(
        total=Sum("filled_quantity")
    )["total"] or Decimal(0)
    entered = Order.objects.filter(trade=trade, purpose=Purpose.ENTRY).aggregate(
        total=Sum("filled_quantity")
    )["total"] or Decimal(0)
    return entered - exited


def _protections_create(trade: Trade, *, credential_id) -> list:
    """The reduce-only stop-loss and take-profit of a filled entry (the take-profit only
    when the trade has one), written NEW on its credential; the trade is marked protected
    on the exchange. Inside the caller's transaction, which holds the trade's lock."""
    orders = [
        Order(
            trade=trade,
            credential_id=credential_id,
            purpose=purpose,
            symbol=trade.symbol,
            side=_opposite(trade.side),
            type=kind,
            reduce_only=True,
            quantity=trade.quantity,
            trigger_price=level,
        )
        for purpose, kind, level in (
            (Purpose.STOP_LOSS, Order.Type.STOP_MARKET, trade.stop_loss),
            (Purpose.TAKE_PROFIT, Order.Type.TAKE_PROFIT_MARKET, trade.take_profit),
        )
        if level is not None
    ]
    orders_insert(orders)
    trade.protected_on_exchange = True
    trade.save(update_fields=["protected_on_exchange"])
    return [order.id for order in orders]


def protections_cancel(*, trade: Trade, broker) -> None:
    """Cancel the trade's protections: unsent ones on the book, sent ones on the exchange,
    each then looked up and booked (a protection that filled meanwhile closes the trade)."""
    Order.objects.filter(
        trade=trade, purpose__in=PROTECTIONS, status=Status.NEW, type__in=_CONDITIONAL
    ).update(status=Status.CANCELLED, last_error="cancelled: the position is being closed")
    for order in Order.objects.filter(
        trade=trade, purpose__in=PROTECTIONS, status__in=Order.ACTIVE, type__in=_CONDITIONAL
    ).select_related("credential", "trade__subscription"):
        try:
            broker.cancel(order_request(order))
        except BrokerAmbiguous as exc:
            _note_error(order, str(exc))
            continue
        order_sync(order=order, broker=broker, round_=None)


_CONDITIONAL = (Order.Type.STOP_MARKET, Order.Type.TAKE_PROFIT_MARKET)


# -- credentials and reconciliation ----------------------------------------------------


def credential_auth_failed(*, credential: BrokerCredential, reason: str) -> None:
    """The exchange refused the key pair while trading: the credential stops, its
    subscriptions pause, both with the reason."""
    message = f"the exchange refused the broker credential: {reason}"[:300]
    BrokerCredential.objects.filter(id=credential.id).update(
        is_active=False, inactive_reason=message
    )
    StrategySubscription.objects.filter(
        broker_credential_id=credential.id, is_active=True, is_paused=False
    ).update(is_paused=True, paused_at=timezone.now(), pause_reason=message)
    broker_forget(credential.id)
    logger.warning("credential %s deactivated: %s", credential.id, message)


def book_positions(*, credential_id) -> dict[str, Decimal]:
    """The platform's net signed position per symbol on a credential: the filled entries
    of its open and closing trades less their closing fills."""
    positions: dict[str, Decimal] = defaultdict(Decimal)
    rows = (
        Order.objects.filter(
            credential_id=credential_id,
            trade__status__in=(Trade.Status.OPEN, Trade.Status.CLOSING),
            filled_quantity__gt=0,
        )
        .values_list("symbol", "side", "filled_quantity")
        .order_by()
    )
    for symbol, side, quantity in rows:
        positions[symbol] += quantity if side == Trade.Side.BUY else -quantity
    return {symbol: amount for symbol, amount in positions.items() if amount}


def credential_reconcile(*, credential_id) -> dict[str, tuple[Decimal, Decimal]]:
    """Make the book equal the exchange for one credential: every unfinished order looked
    up and booked (fills that happened while the platform was down included), NEW orders
    left behind by a lost message sent, then the positions compared. A difference no
    unfinished order explains pauses the credential's subscriptions trading that symbol,
    with the discrepancy as the reason. Answers {symbol: (exchange, book)} of those."""
    credential = BrokerCredential.objects.get(id=credential_id)
    try:
        broker = get_broker(credential)
    except BrokerRejected:
        return {}
    stale = timezone.now() - timedelta(seconds=settings.ORDERS_STALE_NEW_SECONDS)
    unfinished = Order.objects.filter(credential_id=credential_id).filter(
        Q(status__in=(Status.SUBMITTED, Status.PARTIALLY_FILLED))
        | Q(status=Status.NEW, created_at__lt=stale)
    )
    for order_id in unfinished.values_list("id", flat=True):
        order = _load(order_id)
        if order.status == Status.NEW:
            _send(order)
        else:
            order_sync(order=order, broker=broker, round_=None)
    if not broker.native_protections:
        return {}  # paper (the book is the account) or spot (no positions to compare)
    try:
        exchange = broker.positions()
    except BrokerAuthFailed as exc:
        credential_auth_failed(credential=credential, reason=str(exc))
        return {}
    except (BrokerAmbiguous, BrokerRejected) as exc:
        logger.warning("credential %s: positions unavailable: %s", credential_id, exc)
        return {}
    book = book_positions(credential_id=credential_id)
    in_flight = set(
        Order.objects.filter(
            credential_id=credential_id, status__in=Order.ACTIVE, type=Order.Type.MARKET
        ).values_list("symbol", flat=True)
    )
    differences = {
        symbol: (exchange.get(symbol, Decimal(0)), book.get(symbol, Decimal(0)))
        for symbol in set(exchange) | set(book)
        if exchange.get(symbol, Decimal(0)) != book.get(symbol, Decimal(0))
        and symbol not in in_flight
    }
    for symbol, (held, booked) in sorted(differences.items()):
        _pause_for_discrepancy(
            credential_id=credential_id,
            symbol=symbol,
            reason=(
                f"reconciliation: the exchange holds {held} {symbol}, the platform's book "
                f"{booked}; paused until an operator resolves it"
            ),
        )
    return differences


def _pause_for_discrepancy(*, credential_id, symbol: str, reason: str) -> None:
    subscriptions = StrategySubscription.objects.filter(
        broker_credential_id=credential_id, is_active=True
    )
    trading_symbol = subscriptions.filter(trades__symbol=symbol).distinct()
    target = trading_symbol if trading_symbol.exists() else subscriptions
    StrategySubscription.objects.filter(id__in=list(target.values_list("id", flat=True))).update(
        is_paused=True, paused_at=timezone.now(), pause_reason=reason
    )
    logger.warning("credential %s: %s", credential_id, reason)


def credentials_to_reconcile() -> list:
    """Credentials with anything the exchange could disagree about: unfinished orders (a
    paper one too: a NEW order whose message was lost is sent from here), and open trades
    on a real exchange."""
    with_orders = Order.objects.filter(status__in=Order.ACTIVE).values_list(
        "credential_id", flat=True
    )
    with_trades = (
        Trade.objects.filter(status__in=(Trade.Status.OPEN, Trade.Status.CLOSING))
        .exclude(subscription__broker_credential__broker_name=BrokerCredential.PAPER)
        .values_list("subscription__broker_credential_id", flat=True)
    )
    return sorted(set(with_orders.distinct()) | set(with_trades.distinct()))


def submitted_orders_reconcile() -> int:
    """At orders-worker start, before anything else: every SUBMITTED (or partly filled)
    order is looked up on its exchange and booked. Answers how many were looked at."""
    ids = list(
        Order.objects.filter(status__in=(Status.SUBMITTED, Status.PARTIALLY_FILLED))
        .order_by("submitted_at")
        .values_list("id", flat=True)
    )
    for order_id in ids:
        try:
            order_sync(order=_load(order_id), round_=None)
        except Exception:
            logger.exception("order %s could not be reconciled at start", order_id)
    return len(ids)
