"""Property-based run of the whole API against its own OpenAPI schema (schemathesis).

The real server (pytest-django's `live_server`, a thread serving the WSGI app over HTTP)
answers every operation of `/api/schema/` with generated requests, valid and invalid,
signed in with a real JWT of a user who owns a strategy, a broker credential and a
subscription. Every check of schemathesis is on: no 5xx, status codes, content types,
headers and bodies as documented, invalid data refused, and `ignored_auth` (an operation
that needs a login refuses the request without one). After the generated path ids (which
find nothing), each example is replayed with the ids of the user's real objects, so the
200 paths are exercised too.
"""

from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode

from accounts.tests.factories import BrokerCredentialFactory, UserFactory
from backtests.tests.factories import BacktestFactory
from executions.tests.factories import ExecutionFactory, TradeFactory
from marketdata import exchanges
from strategies.tests.factories import StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = [pytest.mark.slow]

MAX_EXAMPLES = 25
# Every check stays on, with one adjustment: a write may be refused with 400 for a rule
# no JSON schema can state (the source must compile, the credential must be the caller's
# and active, a paused subscription cannot be paused again, ...). Reads get no such leeway.
WRITE_STATUSES = ["2xx", "400", "401", "404", "409", "429"]


def _config(token: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            # The JWT goes in through the schema's own security scheme, so that schemathesis
            # knows the request is signed in (and `ignored_auth` can take it away).
            "auth": {"openapi": {"jwtAuth": {"bearer": token}}},
            "operations": [
                {
                    "include-method-regex": "^(POST|PUT|PATCH|DELETE)$",
                    "checks": {"positive_data_acceptance": {"expected-statuses": WRITE_STATUSES}},
                }
            ],
        }
    )


@pytest.fixture
def world(transactional_db):
    user = UserFactory()
    strategy = StrategyFactory(user=user)
    credential = BrokerCredentialFactory(user=user)
    subscription = SubscriptionFactory(
        user=user, strategy=StrategyFactory(), broker_credential=credential
    )
    TradeFactory(subscription=subscription)
    ExecutionFactory(strategy=strategy)
    backtest = BacktestFactory(strategy=strategy)
    return {
        "token": str(RefreshToken.for_user(user).access_token),
        "ids": {
            "strategies": str(strategy.id),
            "strategy_pk": str(strategy.id),
            "subscriptions": str(subscription.id),
            "subscription_pk": str(subscription.id),
            "broker-credentials": str(BrokerCredentialFactory(user=user).id),
            "backtests": str(backtest.id),
        },
    }


@pytest.fixture
def api_schema(live_server, world, monkeypatch, settings):
    # Conformance, not rate limits, is under test here (throttles and lockout have their
    # own tests): thousands of generated requests must not all end in 429.
    monkeypatch.setattr(
        ScopedRateThrottle,
        "THROTTLE_RATES",
        {"auth": "100000/min", "strategy_upload": "100000/min"},
    )
    settings.AXES_ENABLED = False
    # The exchanges a new credential is checked against are on the internet, which this
    # machine cannot reach (503): here they accept every key pair. The check's own
    # answers are tested against the stand-in exchange (accounts/tests).
    accepted = (
        exchanges.CredentialCheck.VALID,
        exchanges.AccountBalance(currency="USDT", free=Decimal(1000), total=Decimal(1000)),
    )
    monkeypatch.setattr(exchanges, "credential_check", lambda **_: accepted)
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/", config=_config(world["token"])
    )


def _real_ids(case, ids: dict) -> dict:
    chosen = {}
    for name, generated in (case.path_parameters or {}).items():
        if name in ids:
            chosen[name] = ids[name]
        else:  # `{id}`: the collection before it names the object
            collection = case.path.split("/{" + name + "}")[0].rsplit("/", 1)[-1]
            chosen[name] = ids.get(collection, generated)
    return chosen


def _run_operation(operation, mode, world) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate()
        if mode is GenerationMode.POSITIVE and case.path_parameters:
            # Random ids find nothing: the same request once more on the user's own objects.
            case.path_parameters = _real_ids(case, world["ids"])
            case.call_and_validate()

    run()


def test_api_conforms_to_its_schema(api_schema, world):
    # schemathesis' pytest plugin (`from_fixture`) reaches into pytest internals that
    # pytest 9 renamed; its Python API does the same work, one operation at a time, and
    # this test reports every failing operation at once.
    failures, operations = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run_operation(operation, mode, world)
            except (Exception, BaseExceptionGroup) as exc:  # collected, reported below
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
