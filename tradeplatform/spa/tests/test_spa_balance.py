"""The subscribe modal's balance (`GET /api/broker/futures-balance`) of an exchange
account, against the stand-in exchange: the web process opens no key; the credential
check and the orders worker's refresh write the snapshot it answers (executions.balances).
"""

import base64
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_redis import get_redis_connection

from accounts import crypto
from accounts.models import BalanceSnapshot, BrokerCredential
from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from executions.balances import balance_refresh
from marketdata.exchange_standin import CCXT_OPTIONS, Fault, StandInExchange
from subscriptions.models import StrategySubscription
from subscriptions.tests.factories import SubscriptionFactory
from tradeplatform.celery import ORDERS_QUEUE
from tradeplatform.celery import app as celery_app
from tradeplatform.tests.fixtures import worker_process

from .client import NUMBER, assert_shape, signed_in

pytestmark = pytest.mark.django_db

KEY, SECRET = "balance-key-0123456789-WXYZ", "balance-secret-never-shown-0123"
BALANCE = "/api/broker/futures-balance"
# What the subscribe modal reads (subscribe-modal.tsx, StrategyExecutionAPI.getFuturesBalance):
# totalAvailable and currency; the client's type adds the rest. asOf and stale are ours.
BALANCE_SHAPE = {
    "totalAvailable": NUMBER,
    "usdtAvailable": NUMBER,
    "inrAvailable": NUMBER,
    "wallets": list,
    "currency": str,
    "asOf": str,
    "stale": bool,
}
WALLET_SHAPE = {"currency": str, "available": NUMBER, "locked": NUMBER, "total": NUMBER}


@pytest.fixture
def exchange(settings):
    with StandInExchange(accounts={KEY: SECRET}, balance="2500") as standin:
        settings.SPA_BROKER = "binanceusdm"
        settings.CCXT_API_URL = standin.url
        settings.CCXT_OPTIONS = CCXT_OPTIONS
        settings.CCXT_TIMEOUT_MS = 2000
        yield standin


@pytest.fixture
def queued(settings):
    """Tasks go to Redis as from the web process (no worker here runs them); answers the
    messages queued for the orders worker."""
    celery_app.conf.task_always_eager = False
    settings.BALANCE_WAIT_SECONDS = 0.5

    def messages() -> list[dict]:
        raw = get_redis_connection("default").lrange(ORDERS_QUEUE, 0, -1)
        return [json.loads(item) for item in raw]

    yield messages
    celery_app.conf.task_always_eager = True


def balance_reads(exchange) -> int:
    return sum(1 for request in exchange.requests if request["path"] == "/fapi/v3/account")


def exchange_credential(user=None, *, free="700", taken_ago=timedelta(hours=2)):
    credential = BrokerCredentialFactory(
        broker_name="binanceusdm",
        api_key=KEY,
        api_secret=SECRET,
        **({"user": user} if user else {}),
    )
    if free is not None:
        BalanceSnapshot.objects.create(
            credential=credential,
            currency="USDT",
            free=Decimal(free),
            total=Decimal(free) + 100,
            taken_at=timezone.now() - taken_ago,
        )
    return credential


def test_a_new_credential_shows_its_balance_at_once_without_the_web_opening_a_key(exchange):
    """The key form's credential check reads the balance with the request's plaintext:
    the modal's balance is there at once, and nothing stored was opened."""
    assert not crypto.can_unseal()
    me = UserFactory()
    spa = signed_in(me)
    stored = spa.post("/api/broker/keys", {"apiKey": KEY, "apiSecret": SECRET})
    assert stored.status_code == 200, stored.content
    response = spa.get(BALANCE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, BALANCE_SHAPE)
    assert_shape(body["wallets"][0], WALLET_SHAPE)
    assert (body["totalAvailable"], body["usdtAvailable"], body["inrAvailable"]) == (2500, 2500, 0)
    assert body["currency"] == "USDT" and body["stale"] is False
    assert body["wallets"] == [{"currency": "USDT", "available": 2500, "locked": 0, "total": 2500}]
    assert balance_reads(exchange) == 1  # the check's read, answered from its snapshot
    assert KEY not in response.content.decode() and SECRET not in response.content.decode()


def test_a_stale_snapshot_is_refreshed_by_the_orders_worker(exchange, orders_worker_keys):
    """Eager tasks: this test is the web and the orders worker at once."""
    me = UserFactory()
    credential = exchange_credential(me)
    exchange.book.accounts[KEY]["wallet"] = "3100.5"
    before = timezone.now()
    response = signed_in(me).get(BALANCE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert_shape(body, BALANCE_SHAPE)
    assert body["totalAvailable"] == 3100.5 and body["stale"] is False
    snapshot = BalanceSnapshot.objects.get(credential=credential)
    assert snapshot.free == Decimal("3100.5") and snapshot.taken_at >= before
    assert balance_reads(exchange) == 1
    # Fresh now: the next look is answered from the row.
    assert signed_in(me).get(BALANCE).json()["totalAvailable"] == 3100.5
    assert balance_reads(exchange) == 1


def test_exchange_down_answers_the_old_snapshot_with_its_time_and_asks_once(
    exchange, orders_worker_keys, settings
):
    settings.BALANCE_REFRESH_INTERVAL_SECONDS = 3600
    me = UserFactory()
    credential = exchange_credential(me, free="700")
    old = BalanceSnapshot.objects.get(credential=credential).taken_at
    exchange.inject(Fault("5xx", path="/fapi/v3/account", times=100))
    spa = signed_in(me)
    for _ in range(5):  # a user reloading the modal
        response = spa.get(BALANCE)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["totalAvailable"] == 700 and body["stale"] is True
        assert body["wallets"][0]["total"] == 800 and body["wallets"][0]["locked"] == 100
        assert datetime.fromisoformat(body["asOf"].replace("Z", "+00:00")) == old
    assert balance_reads(exchange) == 1  # one refresh per credential per interval
    snapshot = BalanceSnapshot.objects.get(credential=credential)
    assert snapshot.failure == "the exchange did not answer"
    # The interval over, the next look asks again (and the exchange is back).
    BalanceSnapshot.objects.filter(credential=credential).update(
        refresh_requested_at=timezone.now() - timedelta(hours=2)
    )
    exchange.faults.clear()
    body = spa.get(BALANCE).json()
    assert body["totalAvailable"] == 2500 and body["stale"] is False
    assert balance_reads(exchange) == 2


def test_never_read_and_exchange_down_is_a_readable_503(exchange, orders_worker_keys):
    me = UserFactory()
    exchange_credential(me, free=None)  # stored before snapshots existed
    exchange.inject(Fault("5xx", path="/fapi/v3/account", times=100))
    response = signed_in(me).get(BALANCE)
    assert response.status_code == 503
    assert response.json() == {
        "error": "The balance of this binanceusdm account has not been read yet "
        "(the exchange did not answer); try again in a moment"
    }


def test_a_refused_key_stops_the_credential_as_when_trading(exchange, orders_worker_keys):
    me = UserFactory()
    credential = exchange_credential(me, free=None)
    subscription = SubscriptionFactory(user=me, broker_credential=credential)
    exchange.book.accounts[KEY]["secret"] = "rotated-by-the-user-elsewhere"
    response = signed_in(me).get(BALANCE)
    assert response.status_code == 503
    assert "the exchange refused the API key and secret" in response.json()["error"]
    credential.refresh_from_db()
    assert not credential.is_active and "refused" in credential.inactive_reason
    assert StrategySubscription.objects.get(id=subscription.id).is_paused
    assert SECRET not in credential.inactive_reason
    missing = signed_in(me).get(BALANCE)
    assert missing.status_code == 404


def test_a_strangers_credential_is_never_read(exchange, orders_worker_keys):
    stranger = exchange_credential()
    me = UserFactory()
    spa = signed_in(me)
    for path in (BALANCE, f"{BALANCE}?credentialId={stranger.id}"):
        response = spa.get(path)
        assert response.status_code == 404
        assert response.json()["error"].startswith("No active broker credentials found")
    mine = exchange_credential(me, taken_ago=timedelta(0))
    named = spa.get(f"{BALANCE}?credentialId={mine.id}")
    assert named.status_code == 200 and named.json()["totalAvailable"] == 700
    stranger_snapshot = BalanceSnapshot.objects.get(credential=stranger)
    assert stranger_snapshot.refresh_requested_at is None and stranger_snapshot.free == 700
    assert balance_reads(exchange) == 0
    invalid = spa.get(f"{BALANCE}?credentialId=not-an-id")
    assert invalid.status_code == 400
    assert invalid.json()["error"] == "credentialId: Must be a valid UUID."


def test_the_web_queues_the_credential_id_alone_and_opens_no_key(exchange, queued):
    """As in production: the web process has the public key only and tasks go to the
    orders queue. The refresh is queued once, with the id alone; the old snapshot is
    answered meanwhile; the orders worker's run of it is what the next look answers."""
    assert not crypto.can_unseal()
    me = UserFactory()
    credential = exchange_credential(me)
    spa = signed_in(me)
    for _ in range(3):
        body = spa.get(BALANCE).json()
        assert body["totalAvailable"] == 700 and body["stale"] is True
    [message] = queued()
    assert message["headers"]["task"] == "executions.balance_refresh"
    args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([str(credential.id)], {})
    text = json.dumps(message)
    assert KEY not in text and SECRET not in text
    assert balance_reads(exchange) == 0
    # Run here, the refresh opens nothing: the web process holds no private key.
    assert balance_refresh(credential_id=str(credential.id)) == "failed"
    assert BalanceSnapshot.objects.get(credential=credential).free == 700
    assert balance_reads(exchange) == 0
    with pytest.raises(crypto.NoPrivateKey):
        from accounts.services import broker_credential_open

        broker_credential_open(credential=BrokerCredential.objects.get(id=credential.id))


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_end_to_end_with_a_real_orders_worker(exchange, queued, settings, tmp_path):
    settings.BALANCE_WAIT_SECONDS = 60  # a bound: the answer comes when the worker writes
    me = UserFactory()
    exchange_credential(me)
    exchange.book.accounts[KEY]["wallet"] = "4200"
    env = {
        "BROKER_PRIVATE_KEYS": settings.DEV_BROKER_PRIVATE_KEY_FILE.read_text().strip(),
        "CCXT_API_URL": exchange.url,
        "CCXT_OPTIONS": json.dumps(CCXT_OPTIONS),
    }
    with worker_process(tmp_path, "-Q", ORDERS_QUEUE, extra_env=env) as (process, log):
        deadline = time.monotonic() + 60
        while b"ready" not in log.read_bytes() and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        response = signed_in(me).get(BALANCE)
    assert response.status_code == 200, log.read_text()[-3000:]
    body = response.json()
    assert body["totalAvailable"] == 4200 and body["stale"] is False, log.read_text()[-3000:]
    assert balance_reads(exchange) == 1
    assert not crypto.can_unseal()  # this process (the web) still holds no private key


def test_only_the_look_that_asked_waits_so_a_burst_holds_no_web_workers(exchange, queued):
    """A burst of looks at a stale balance (one user's many tabs, a script) must not hold
    a web worker each for BALANCE_WAIT_SECONDS: the look that asked the orders worker
    waits for its answer; one while that refresh is in flight answers the snapshot at
    once (it polls the row not even once)."""
    me = UserFactory()
    credential = exchange_credential(me)
    asked = timezone.now()  # another look asked just now; no worker has answered yet
    BalanceSnapshot.objects.filter(credential=credential).update(refresh_requested_at=asked)
    with CaptureQueriesContext(connection) as queries:
        response = signed_in(me).get(BALANCE)
    assert response.status_code == 200, response.content
    assert response.json()["totalAvailable"] == 700 and response.json()["stale"] is True
    snapshot_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and '"accounts_balancesnapshot"' in q["sql"]
    ]
    assert len(snapshot_reads) == 3  # the look, the claim's get_or_create, the answer
    assert queued() == []  # and nothing asked again within the interval
