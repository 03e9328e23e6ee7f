"""Exchange account balances, read without the web process ever opening a key.

A credential's balance is its snapshot (`accounts.BalanceSnapshot`): the account's free
and total `BALANCE_CURRENCY` and when the exchange reported them. Two writers:
- the credential check when the credential is created (`accounts.services`, in the web
  process, with the plaintext of that request: the only time the web holds it);
- `balance_refresh`, run by the orders worker (which alone opens a credential) as the
  `executions.balance_refresh` task of the `orders` queue; its message is the credential
  id alone.

`balance_snapshot` (the web's read) answers the snapshot as it is while it is younger
than `BALANCE_MAX_AGE_SECONDS`. Older, it asks the orders worker for a refresh — at most
one per credential per `BALANCE_REFRESH_INTERVAL_SECONDS` whoever asks, so no user can
make the platform hammer an exchange — and the look that asked polls the row for the
answer for up to `BALANCE_WAIT_SECONDS` (any other look does not wait: no burst of looks
holds the web workers). Then it answers the newest snapshot, which carries
its time (an old one when the exchange or the worker did not answer), or raises
`BalanceUnavailable` when the account has never been read.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.crypto import can_unseal
from accounts.models import BalanceSnapshot, BrokerCredential
from accounts.services import balance_snapshot_record

from .brokers import BrokerAmbiguous, BrokerAuthFailed, BrokerError, get_broker
from .orders import credential_auth_failed

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# What the account's owner is told of a failed read (the exchange's own words are logged).
_FAILURES = {
    BrokerAuthFailed: "the exchange refused the API key and secret",
    BrokerAmbiguous: "the exchange did not answer",
    BrokerError: "the exchange refused the balance read",
}


class BalanceUnavailable(Exception):
    """No balance was ever read for the account; the message says why, for its owner."""


def snapshot_stale(snapshot: BalanceSnapshot, *, now: datetime) -> bool:
    """Never read, or read longer than BALANCE_MAX_AGE_SECONDS ago."""
    max_age = timedelta(seconds=settings.BALANCE_MAX_AGE_SECONDS)
    return snapshot.taken_at is None or snapshot.taken_at < now - max_age


def _refresh_claim(*, credential: BrokerCredential, now: datetime) -> bool:
    """True for the one caller per interval that may ask the orders worker (an atomic
    UPDATE on the snapshot row: concurrent requests claim it once)."""
    BalanceSnapshot.objects.get_or_create(
        credential=credential, defaults={"currency": settings.BALANCE_CURRENCY}
    )
    since = now - timedelta(seconds=settings.BALANCE_REFRESH_INTERVAL_SECONDS)
    return bool(
        BalanceSnapshot.objects.filter(credential=credential)
        .filter(Q(refresh_requested_at=None) | Q(refresh_requested_at__lt=since))
        .update(refresh_requested_at=now)
    )


def _refresh_pending(snapshot: BalanceSnapshot) -> bool:
    """A refresh was asked for and neither a balance nor a failure has come since."""
    asked = snapshot.refresh_requested_at
    return asked is not None and all(
        moment is None or moment < asked for moment in (snapshot.taken_at, snapshot.failed_at)
    )


def balance_snapshot(*, credential: BrokerCredential) -> BalanceSnapshot:
    """The newest snapshot of an exchange credential's balance (the web's read; it opens
    nothing): refreshed first, within a bounded wait, when it is stale."""
    now = timezone.now()
    snapshot = BalanceSnapshot.objects.filter(credential=credential).first()
    if snapshot is not None and not snapshot_stale(snapshot, now=now):
        return snapshot
    asked = _refresh_claim(credential=credential, now=now)
    if asked:
        from executions.tasks import balance_refresh as balance_refresh_task

        balance_refresh_task.delay(str(credential.id))
    snapshot = BalanceSnapshot.objects.get(credential=credential)
    seen = (snapshot.taken_at, snapshot.failed_at)
    # Only the look that asked waits, up to BALANCE_WAIT_SECONDS: one while that refresh
    # is in flight answers the snapshot as it is, so a burst of looks holds one web
    # worker per credential per interval, not one each.
    deadline = time.monotonic() + settings.BALANCE_WAIT_SECONDS
    while asked and _refresh_pending(snapshot) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        snapshot.refresh_from_db()
        if (snapshot.taken_at, snapshot.failed_at) != seen:
            break  # answered (a clock apart from ours may stamp it before the request)
    if snapshot.taken_at is None:
        reason = f" ({snapshot.failure})" if snapshot.failure else ""
        raise BalanceUnavailable(
            f"The balance of this {credential.broker_name} account has not been read "
            f"yet{reason}; try again in a moment"
        )
    return snapshot


def balance_refresh(*, credential_id) -> str:
    """(orders worker) Read an active exchange credential's balance into its snapshot.
    Skipped when a read answered since the last ask (a queued duplicate: at most one
    per interval is queued, and after an outage of the worker the first one answers
    them all). An exchange that refuses the key pair stops the credential, as when
    trading (`orders.credential_auth_failed`). Answers what it did."""
    credential = (
        BrokerCredential.objects.filter(id=credential_id, is_active=True)
        .exclude(broker_name=BrokerCredential.PAPER)
        .first()
    )
    if credential is None:
        return "no active exchange credential"
    snapshot = BalanceSnapshot.objects.filter(credential=credential).first()
    if snapshot and snapshot.refresh_requested_at and not _refresh_pending(snapshot):
        return "answered already"
    if not can_unseal():  # a misrouted task (or an eager one in the web process)
        logger.error("balance_refresh ran without the broker private key: orders worker only")
        return _refresh_failed(credential, "the orders worker is not available")
    try:
        balance = get_broker(credential).balance(settings.BALANCE_CURRENCY)
    except BrokerError as exc:
        logger.warning("balance of credential %s not read: %s", credential.id, exc)
        if isinstance(exc, BrokerAuthFailed):
            credential_auth_failed(credential=credential, reason=str(exc))
        return _refresh_failed(credential, _FAILURES.get(type(exc), _FAILURES[BrokerError]))
    balance_snapshot_record(credential_id=credential.id, balance=balance)
    return "read"


def _refresh_failed(credential: BrokerCredential, failure: str) -> str:
    BalanceSnapshot.objects.update_or_create(
        credential=credential,
        defaults={
            "currency": settings.BALANCE_CURRENCY,
            "failed_at": timezone.now(),
            "failure": failure,
        },
    )
    return "failed"
