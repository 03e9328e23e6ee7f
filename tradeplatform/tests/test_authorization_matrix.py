"""Who may reach what, over every endpoint of the wire contract (docs/architecture.md).

Four callers: anonymous, user A (who owns everything in the fixture world), user B (a
stranger with things of their own) and staff. Each signs in with a real JWT. Another
user's subscription, trade, execution, credential or private strategy answers 404, as if
it did not exist; a JWT-only endpoint answers 401 to the anonymous caller. Staff read every
strategy (with its source) and its executions; the rest of a user's things (subscriptions,
trades, credentials, backtests) are managed through the admin, so the API treats staff as
a stranger there.
"""

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import TEST_PASSWORD, BrokerCredentialFactory, UserFactory
from backtests.tests.factories import BacktestFactory
from executions.tests.factories import ExecutionFactory, TradeFactory
from strategies.tests.factories import HOLD_SOURCE, StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "owner", "stranger", "staff")


@dataclass
class World:
    owner: object
    stranger: object
    staff: object
    public_strategy: object
    private_strategy: object
    stranger_strategy: object
    subscription: object
    paused_subscription: object
    credential: object
    spare_credential: object
    stranger_credential: object
    trade: object
    execution: object
    backtest: object


@pytest.fixture
def world() -> World:
    owner, stranger, staff = UserFactory(), UserFactory(), UserFactory(is_staff=True)
    public_strategy = StrategyFactory(user=owner)
    private_strategy = StrategyFactory(user=owner, is_public=False)
    stranger_strategy = StrategyFactory(user=stranger)
    credential = BrokerCredentialFactory(user=owner)
    subscription = SubscriptionFactory(
        user=owner, strategy=stranger_strategy, broker_credential=credential
    )
    paused_subscription = SubscriptionFactory(
        user=owner, strategy=public_strategy, broker_credential=credential, is_paused=True
    )
    return World(
        owner=owner,
        stranger=stranger,
        staff=staff,
        public_strategy=public_strategy,
        private_strategy=private_strategy,
        stranger_strategy=stranger_strategy,
        subscription=subscription,
        paused_subscription=paused_subscription,
        credential=credential,
        spare_credential=BrokerCredentialFactory(user=owner),
        stranger_credential=BrokerCredentialFactory(user=stranger),
        trade=TradeFactory(subscription=subscription),
        execution=ExecutionFactory(strategy=public_strategy),
        # On the public strategy: the stranger may backtest it, but not see this one.
        backtest=BacktestFactory(strategy=public_strategy, user=owner),
    )


def _client(world: World, actor: str) -> APIClient:
    client = APIClient()
    user = {"owner": world.owner, "stranger": world.stranger, "staff": world.staff}.get(actor)
    if user is not None:
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _new_strategy(world, actor):
    return {
        "name": "New",
        "code": f"new-{actor}",
        "strategyCode": HOLD_SOURCE,
        "executionConfig": {"symbol": "ETHUSDT", "resolution": 15},
    }


def _subscribe(world, actor):
    credential = world.stranger_credential if actor == "stranger" else world.credential
    return {"capital": 1000, "riskPerTrade": 0.01, "brokerCredentialId": str(credential.id)}


def _login(world, actor):
    return {"email": world.owner.email, "password": TEST_PASSWORD}


def _refresh(world, actor):
    return {"refresh": str(RefreshToken.for_user(world.owner))}


def _register(world, actor):
    return {"email": f"new-{actor}@example.com", "password": "Tr4ding-Platform-2026!"}


def _backtest(world, actor):
    return {
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-02T00:00:00Z",
        "capital": 1000,
        "riskPerTrade": 0.01,
    }


def _credential(world, actor):
    return {"brokerName": "paper"}


def _risk(world, actor):
    return {"capital": 5000}


def _rename(world, actor):
    return {"name": "Renamed"}


def _password(world, actor):
    return {"currentPassword": TEST_PASSWORD, "newPassword": "An0ther-Passphrase-2026"}


def _keys(world, actor):
    return {"apiKey": f"key-of-{actor}", "apiSecret": f"secret-of-{actor}"}


def _bulk_stats(world, actor):
    return {"subscriptionIds": [str(world.subscription.id)]}


def _close(world, actor):
    return {"positionId": str(world.trade.id)}


def _expect(anonymous, owner, stranger, staff) -> dict:
    return dict(zip(ACTORS, (anonymous, owner, stranger, staff), strict=True))


PUBLIC = _expect(200, 200, 200, 200)
SIGNED_IN = _expect(401, 200, 200, 200)
CREATED_BY_ANY = _expect(401, 201, 201, 201)
OWNER_ONLY = _expect(401, 200, 404, 404)
OWNER_OR_STAFF = _expect(401, 200, 404, 200)

SUBSCRIPTIONS = "/api/strategies/subscriptions"
SUB = SUBSCRIPTIONS + "/{subscription}"
STRAT = "/api/strategy-upload/strategies"
PUBLIC_STRAT = STRAT + "/{public_strategy}"
PRIVATE_STRAT = STRAT + "/{private_strategy}"
CREDENTIALS = "/api/broker-credentials"
BACKTEST = PUBLIC_STRAT + "/backtests/{backtest}"

# (route name, method, path with {placeholders} from World, body maker, expected statuses)
MATRIX = [
    ("auth-register", "post", "/auth/register", _register, _expect(201, 201, 201, 201)),
    ("auth-login", "post", "/auth/login", _login, PUBLIC),
    ("auth-refresh", "post", "/auth/refresh", _refresh, PUBLIC),
    ("auth-logout", "post", "/auth/logout", _refresh, PUBLIC),
    ("auth-me", "get", "/auth/me", None, SIGNED_IN),
    ("strategy-list", "get", STRAT, None, PUBLIC),
    ("strategy-list", "post", STRAT, _new_strategy, CREATED_BY_ANY),
    ("strategy-detail", "get", PUBLIC_STRAT, None, PUBLIC),
    ("strategy-detail", "get", PRIVATE_STRAT, None, _expect(404, 200, 404, 200)),
    ("strategy-detail", "patch", PUBLIC_STRAT, _rename, OWNER_ONLY),
    ("strategy-detail", "put", PRIVATE_STRAT, _rename, OWNER_ONLY),
    ("strategy-detail", "delete", PRIVATE_STRAT, None, OWNER_ONLY),
    ("strategy-executions", "get", PUBLIC_STRAT + "/executions", None, OWNER_OR_STAFF),
    ("strategy-backtests", "get", PUBLIC_STRAT + "/backtests", None, SIGNED_IN),
    ("strategy-backtests", "get", PRIVATE_STRAT + "/backtests", None, _expect(401, 200, 404, 404)),
    (
        "strategy-backtests",
        "post",
        PUBLIC_STRAT + "/backtests",
        _backtest,
        _expect(401, 202, 202, 202),
    ),
    (
        "strategy-backtests",
        "post",
        PRIVATE_STRAT + "/backtests",
        _backtest,
        _expect(401, 202, 404, 404),
    ),
    ("strategy-backtest", "get", BACKTEST, None, OWNER_ONLY),
    ("strategy-backtest-trades", "get", BACKTEST + "/trades", None, OWNER_ONLY),
    ("strategy-backtest-equity", "get", BACKTEST + "/equity.svg", None, OWNER_ONLY),
    (
        "strategy-subscribe",
        "post",
        "/api/strategies/{private_strategy}/subscribe",
        _subscribe,
        _expect(401, 201, 404, 404),
    ),
    ("subscription-list", "get", "/api/strategies/subscriptions", None, SIGNED_IN),
    ("subscription-detail", "get", SUB, None, OWNER_ONLY),
    ("subscription-detail", "put", SUB, _risk, OWNER_ONLY),
    ("subscription-detail", "patch", SUB, _risk, OWNER_ONLY),
    ("subscription-detail", "delete", SUB, None, OWNER_ONLY),
    ("subscription-stats", "get", SUB + "/stats", None, OWNER_ONLY),
    ("subscription-pause", "post", SUB + "/pause", None, OWNER_ONLY),
    (
        "subscription-resume",
        "post",
        SUBSCRIPTIONS + "/{paused_subscription}/resume",
        None,
        OWNER_ONLY,
    ),
    ("subscription-trades", "get", SUB + "/trades", None, OWNER_ONLY),
    ("order-list", "get", "/api/orders", None, SIGNED_IN),
    ("broker-credential-list", "get", CREDENTIALS, None, SIGNED_IN),
    ("broker-credential-list", "post", CREDENTIALS, _credential, CREATED_BY_ANY),
    ("broker-credential-detail", "delete", CREDENTIALS + "/{spare_credential}", None, OWNER_ONLY),
    # The original SPA's paths (tradeplatform.spa).
    ("spa-register", "post", "/api/user/register", _register, _expect(201, 201, 201, 201)),
    ("spa-login", "post", "/api/user/login", _login, PUBLIC),
    ("spa-logout", "post", "/api/user/logout", None, PUBLIC),
    ("spa-me", "get", "/api/user/me", None, SIGNED_IN),
    ("spa-profile", "get", "/api/user/profile", None, SIGNED_IN),
    ("spa-profile", "put", "/api/user/profile", _rename, SIGNED_IN),
    ("spa-change-password", "put", "/api/user/change-password", _password, SIGNED_IN),
    ("spa-marketplace", "get", "/api/marketplace", None, PUBLIC),
    ("spa-marketplace-detail", "get", "/api/marketplace/{public_strategy}", None, PUBLIC),
    (
        "spa-marketplace-detail",
        "get",
        "/api/marketplace/{private_strategy}",
        None,
        _expect(404, 200, 404, 200),
    ),
    ("spa-broker-credentials", "get", "/api/broker/credentials", None, SIGNED_IN),
    ("spa-broker-keys", "post", "/api/broker/keys", _keys, SIGNED_IN),
    # The owner's credential trades for a subscription; staff have none.
    ("spa-broker-keys", "delete", "/api/broker/keys", None, _expect(401, 400, 200, 404)),
    ("spa-broker-status", "get", "/api/broker/status", None, SIGNED_IN),
    ("spa-broker-test", "post", "/api/broker/test", _keys, SIGNED_IN),
    ("spa-broker-balance", "get", "/api/broker/futures-balance", None, _expect(401, 200, 200, 404)),
    ("spa-subscription-bulk-stats", "post", SUBSCRIPTIONS + "/bulk-stats", _bulk_stats, SIGNED_IN),
    ("spa-subscription-equity-curve", "get", SUB + "/equity-curve", None, OWNER_ONLY),
    ("spa-positions-current", "get", "/api/positions/current", None, SIGNED_IN),
    ("spa-orders", "get", "/api/positions/orders", None, SIGNED_IN),
    ("spa-pnl", "get", "/api/positions/pnl", None, SIGNED_IN),
    # No candle of the trade's market is stored: the owner's close has no price (409).
    ("spa-position-close", "post", "/api/positions/close", _close, _expect(401, 409, 404, 404)),
]

CASES = [
    pytest.param(method, path, body, actor, expected[actor], id=f"{method} {path} as {actor}")
    for _name, method, path, body, expected in MATRIX
    for actor in ACTORS
]


def _path(template: str, world: World) -> str:
    return template.format(
        **{key: getattr(value, "id", None) for key, value in vars(world).items()}
    )


@pytest.mark.parametrize(("method", "path", "body", "actor", "expected"), CASES)
def test_matrix(world, method, path, body, actor, expected):
    client = _client(world, actor)
    data = body(world, actor) if body else None
    response = getattr(client, method)(_path(path, world), data, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        payload = response.json()
        assert set(payload) <= {"error", "details"}
        assert payload["error"]
    if expected == 404:
        # Nothing of the hidden object comes back, not even its code.
        assert world.private_strategy.code.encode() not in response.content


def _routes(resolver: URLResolver, prefix: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            names |= _routes(pattern, route)
        elif (
            isinstance(pattern, URLPattern)
            and pattern.name
            and route.lstrip("^").startswith(("api/", "auth/"))
        ):
            names.add(pattern.name)
    return names


def test_every_api_route_is_in_the_matrix():
    documentation = {"schema", "api-docs", "api-redoc", "api-redoc-bundle"}
    assert _routes(get_resolver()) - documentation == {row[0] for row in MATRIX}


# --- what comes back to whom ---------------------------------------------------------------


def _ids(items) -> set[str]:
    return {item["id"] for item in items}


def test_lists_hold_only_the_callers_own_things(world):
    stranger = _client(world, "stranger")
    assert _ids(stranger.get(SUBSCRIPTIONS).json()["subscriptions"]) == set()
    credentials = stranger.get("/api/broker-credentials").json()["credentials"]
    assert _ids(credentials) == {str(world.stranger_credential.id)}
    owner = _client(world, "owner")
    assert _ids(owner.get(SUBSCRIPTIONS).json()["subscriptions"]) == {
        str(world.subscription.id),
        str(world.paused_subscription.id),
    }
    staff = _client(world, "staff")
    assert _ids(staff.get(SUBSCRIPTIONS).json()["subscriptions"]) == set()
    assert staff.get("/api/broker-credentials").json()["credentials"] == []


@pytest.mark.parametrize(
    ("actor", "sees_private"),
    [("anonymous", False), ("owner", True), ("stranger", False), ("staff", True)],
)
def test_strategy_list_hides_private_strategies_and_every_source(world, actor, sees_private):
    strategies = _client(world, actor).get(STRAT).json()["strategies"]
    assert (str(world.private_strategy.id) in _ids(strategies)) is sees_private
    assert str(world.public_strategy.id) in _ids(strategies)
    assert all("strategyCode" not in item for item in strategies)


@pytest.mark.parametrize(
    ("actor", "sees_source"),
    [("anonymous", False), ("owner", True), ("stranger", False), ("staff", True)],
)
def test_only_owner_and_staff_read_the_source(world, actor, sees_source):
    body = _client(world, actor).get(f"{STRAT}/{world.public_strategy.id}").json()
    assert ("strategyCode" in body["strategy"]) is sees_source


def test_a_strangers_credential_cannot_be_used_to_subscribe(world):
    body = {
        "capital": 1000,
        "riskPerTrade": 0.01,
        "brokerCredentialId": str(world.credential.id),
    }
    response = _client(world, "stranger").post(
        f"/api/strategies/{world.public_strategy.id}/subscribe", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Broker credential not found or inactive"
    assert world.public_strategy.subscriptions.filter(user=world.stranger).count() == 0


def test_the_owners_trades_and_executions_come_back_to_the_owner_only(world):
    owner = _client(world, "owner")
    trades = owner.get(f"{SUBSCRIPTIONS}/{world.subscription.id}/trades").json()["trades"]
    assert _ids(trades) == {str(world.trade.id)}
    executions = owner.get(f"{STRAT}/{world.public_strategy.id}/executions").json()
    assert _ids(executions["executions"]) == {str(world.execution.id)}


def test_no_answer_carries_a_credential(world):
    owner = _client(world, "owner")
    for path in [CREDENTIALS, SUBSCRIPTIONS, f"{SUBSCRIPTIONS}/{world.subscription.id}"]:
        content = owner.get(path).content
        assert world.credential.api_key.encode() not in content
        assert world.credential.api_secret.encode() not in content
