import pytest
from rest_framework.throttling import ScopedRateThrottle

from accounts.services import tokens_for_user
from strategies.models import Strategy
from strategies.settings_cache import strategy_settings_get
from strategies.tests.factories import HOLD_SOURCE, StrategyFactory
from subscriptions.tests.factories import SubscriptionFactory

pytestmark = pytest.mark.django_db

URL = "/api/strategy-upload/strategies"


def _detail(strategy) -> str:
    return f"{URL}/{strategy.id}"


def _payload(**overrides) -> dict:
    body = {
        "name": "Momentum",
        "code": "momentum-1",
        "description": "Buys strength",
        "strategyCode": HOLD_SOURCE,
        "executionConfig": {"symbol": "btcusdt", "resolution": "15", "lookbackPeriod": 200},
        "tags": "trend, momentum",
    }
    body.update(overrides)
    return body


def _assert_error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- list -------------------------------------------------------------------------------


def test_anonymous_list_shows_public_active_strategies_only(api_client, user):
    public = StrategyFactory()
    StrategyFactory(is_public=False)
    StrategyFactory(is_active=False)
    response = api_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["strategies"]] == [str(public.id)]
    assert body["pagination"] == {"page": 1, "limit": 50, "total": 1, "pages": 1}
    assert "strategyCode" not in body["strategies"][0]


def test_signed_in_user_also_sees_their_own(auth_client, user, other_user):
    public = StrategyFactory()
    mine_private = StrategyFactory(user=user, is_public=False)
    mine_inactive = StrategyFactory(user=user, is_active=False)
    StrategyFactory(user=other_user, is_public=False)
    StrategyFactory(user=other_user, is_active=False)
    ids = {row["id"] for row in auth_client.get(URL).json()["strategies"]}
    assert ids == {str(public.id), str(mine_private.id), str(mine_inactive.id)}


def test_list_is_newest_first_and_accepts_a_trailing_slash(api_client):
    first, second = StrategyFactory(), StrategyFactory()
    rows = api_client.get(f"{URL}/").json()["strategies"]
    assert [row["id"] for row in rows] == [str(second.id), str(first.id)]


@pytest.mark.parametrize(
    ("field", "value", "query"),
    [
        ("name", "Golden Cross", "golden"),
        ("description", "Mean reversion on dips", "REVERSION"),
        ("author", "alice@example.com", "Alice@"),
        ("code", "rsi-scalper", "scalp"),
    ],
)
def test_search_is_case_insensitive_over_name_description_author_code(
    api_client, field, value, query
):
    hit = StrategyFactory(**{field: value})
    StrategyFactory()
    rows = api_client.get(URL, {"search": query}).json()["strategies"]
    assert [row["id"] for row in rows] == [str(hit.id)]


def test_search_does_not_look_into_the_source(api_client):
    StrategyFactory(strategy_code=HOLD_SOURCE + "# secret-sauce\n")
    assert api_client.get(URL, {"search": "secret-sauce"}).json()["strategies"] == []


def test_status_filter(auth_client, user):
    active = StrategyFactory(user=user)
    inactive = StrategyFactory(user=user, is_active=False)
    active_rows = auth_client.get(URL, {"status": "active"}).json()["strategies"]
    inactive_rows = auth_client.get(URL, {"status": "inactive"}).json()["strategies"]
    assert [row["id"] for row in active_rows] == [str(active.id)]
    assert [row["id"] for row in inactive_rows] == [str(inactive.id)]
    _assert_error(auth_client.get(URL, {"status": "bogus"}), 400)


def test_tags_filter_matches_whole_tags_all_given(api_client):
    both = StrategyFactory(tags="trend,btc")
    StrategyFactory(tags="trend")
    StrategyFactory(tags="trendy,btc")
    rows = api_client.get(URL, {"tags": "trend, BTC"}).json()["strategies"]
    assert [row["id"] for row in rows] == [str(both.id)]


def test_pagination_page_and_limit(api_client):
    StrategyFactory.create_batch(5)
    body = api_client.get(URL, {"page": 2, "limit": 2}).json()
    assert len(body["strategies"]) == 2
    assert body["pagination"] == {"page": 2, "limit": 2, "total": 5, "pages": 3}
    capped = api_client.get(URL, {"limit": 5000}).json()["pagination"]
    assert capped["limit"] == 1000


@pytest.mark.parametrize("count", [3, 30])
def test_list_runs_a_constant_number_of_queries(
    auth_client, user, count, django_assert_max_num_queries
):
    StrategyFactory.create_batch(count)
    StrategyFactory.create_batch(2, user=user, is_public=False)
    with django_assert_max_num_queries(2):
        response = auth_client.get(URL, {"limit": 1000})
    assert len(response.json()["strategies"]) == count + 2


# --- create -----------------------------------------------------------------------------


def test_create_answers_the_strategy(auth_client, user):
    response = auth_client.post(URL, _payload(), format="json")
    assert response.status_code == 201, response.content
    strategy = response.json()["strategy"]
    assert strategy["author"] == user.email
    assert strategy["version"] == "1.0.0"
    assert strategy["userId"] == str(user.id)
    assert strategy["strategyCode"] == HOLD_SOURCE
    assert strategy["executionConfig"] == {
        "symbol": "BTCUSDT",
        "resolution": 15,
        "lookbackPeriod": 200,
        "params": {},
    }
    assert strategy["tags"] == "trend,momentum"
    assert strategy["subscriberCount"] == 0
    # Private unless asked, as the seed's schema has it.
    assert strategy["isPublic"] is False
    asked = auth_client.post(URL, _payload(code="public-one", isPublic=True), format="json")
    assert asked.json()["strategy"]["isPublic"] is True


def test_resolution_may_be_a_number_and_lookback_defaults_to_100(auth_client):
    body = _payload(executionConfig={"symbol": "ETHUSDT", "resolution": 1440})
    config = auth_client.post(URL, body, format="json").json()["strategy"]["executionConfig"]
    assert config["resolution"] == 1440
    assert config["lookbackPeriod"] == 100


def test_params_keys_cross_the_wire_untouched(auth_client):
    params = {"fast_period": 9, "slowPeriod": 21, "nested": {"a_b": [1, 2.5]}}
    body = _payload(executionConfig={"symbol": "ETHUSDT", "resolution": 5, "params": params})
    response = auth_client.post(URL, body, format="json")
    assert response.json()["strategy"]["executionConfig"]["params"] == params
    assert Strategy.objects.get().execution_config["params"] == params


def test_create_ignores_fields_the_author_may_not_set(auth_client, user, other_user):
    body = _payload(
        id="00000000-0000-0000-0000-000000000001",
        subscriberCount=500,
        author="someone@else.com",
        userId=str(other_user.id),
        user=str(other_user.id),
        isMarketplace=True,
        totalPnl=1000,
        createdAt="2020-01-01T00:00:00Z",
        version="9.9.9",
    )
    response = auth_client.post(URL, body, format="json")
    assert response.status_code == 201
    strategy = Strategy.objects.get()
    assert str(strategy.id) != body["id"]
    assert strategy.subscriber_count == 0
    assert strategy.author == user.email
    assert strategy.user_id == user.id
    assert strategy.is_marketplace is False
    assert strategy.version == "1.0.0"
    assert strategy.created_at.year > 2020


def test_syntax_error_answers_400_naming_the_line(auth_client):
    source = "def generate_signal(candles, params):\n    return {\n\nx = (\n"
    body = _assert_error(auth_client.post(URL, _payload(strategyCode=source), format="json"), 400)
    assert "line" in body["error"]
    assert "strategyCode" in body["details"]
    assert not Strategy.objects.exists()


def test_source_without_generate_signal_is_refused(auth_client):
    source = "def something(candles, params):\n    return None\n"
    body = _assert_error(auth_client.post(URL, _payload(strategyCode=source), format="json"), 400)
    assert "generate_signal" in body["error"]


def test_source_over_100_kb_is_refused(auth_client):
    source = HOLD_SOURCE + "#" * (100 * 1024)
    _assert_error(auth_client.post(URL, _payload(strategyCode=source), format="json"), 400)


def test_duplicate_code_answers_409(auth_client):
    StrategyFactory(code="momentum-1")
    body = _assert_error(auth_client.post(URL, _payload(), format="json"), 409)
    assert body["error"] == "Strategy code already exists"


@pytest.mark.parametrize(
    "overrides",
    [
        {"code": "Not A Slug!"},
        {"name": ""},
        {"strategyCode": None},
        {"executionConfig": {"symbol": "BTCUSDT", "resolution": 3}},
        {"executionConfig": {"symbol": "BTC USDT", "resolution": 5}},
        {"executionConfig": {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 0}},
        {"executionConfig": {"symbol": "BTCUSDT", "resolution": 5, "params": {"x": 1e16}}},
        {"executionConfig": "BTCUSDT"},
        {"tags": 5},
    ],
)
def test_invalid_input_answers_400_with_details(auth_client, overrides):
    body = _assert_error(auth_client.post(URL, _payload(**overrides), format="json"), 400)
    assert body["details"]


def test_nan_and_deep_json_are_refused(auth_client):
    nan = (
        '{"name": "x", "code": "x", "strategyCode": "x", '
        '"executionConfig": {"symbol": "BTCUSDT", "resolution": 5, "params": {"a": NaN}}}'
    )
    _assert_error(auth_client.post(URL, nan, content_type="application/json"), 400)
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    _assert_error(auth_client.post(URL, deep, content_type="application/json"), 400)


def test_create_needs_a_signed_in_user(api_client):
    _assert_error(api_client.post(URL, _payload(), format="json"), 401)


def test_upload_is_throttled(auth_client, monkeypatch):
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"strategy_upload": "2/min", "auth": "10/min"}
    )
    for n in range(2):
        response = auth_client.post(URL, _payload(code=f"c-{n}"), format="json")
        assert response.status_code == 201
    _assert_error(auth_client.post(URL, _payload(code="c-3"), format="json"), 429)
    assert auth_client.get(URL).status_code == 200


# --- retrieve ---------------------------------------------------------------------------


def test_owner_and_staff_see_the_source_others_do_not(
    auth_client, user, other_client, staff_client, api_client
):
    strategy = StrategyFactory(user=user)
    assert auth_client.get(_detail(strategy)).json()["strategy"]["strategyCode"] == HOLD_SOURCE
    assert staff_client.get(_detail(strategy)).json()["strategy"]["strategyCode"] == HOLD_SOURCE
    for client in (other_client, api_client):
        response = client.get(_detail(strategy))
        assert response.status_code == 200
        assert response.json()["strategy"]["name"] == strategy.name
        assert "strategyCode" not in response.json()["strategy"]


def test_another_users_private_strategy_is_not_found(other_client, api_client, user):
    strategy = StrategyFactory(user=user, is_public=False)
    for client in (other_client, api_client):
        body = _assert_error(client.get(_detail(strategy)), 404)
        assert body["error"] == "Strategy not found"


@pytest.mark.parametrize("pk", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "1"])
def test_unknown_or_malformed_id_is_404(api_client, pk):
    _assert_error(api_client.get(f"{URL}/{pk}"), 404)


# --- update -----------------------------------------------------------------------------


def test_update_with_a_partial_put(auth_client, user):
    strategy = StrategyFactory(user=user, version="1.0.0")
    response = auth_client.put(_detail(strategy), {"description": "Better"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["strategy"]["description"] == "Better"
    strategy.refresh_from_db()
    assert strategy.description == "Better"
    assert strategy.version == "1.0.0"


def test_new_source_bumps_the_patch_version_and_clears_the_settings_cache(
    auth_client, user, django_capture_on_commit_callbacks
):
    strategy = StrategyFactory(user=user, version="1.2.3")
    assert strategy_settings_get(strategy_id=strategy.id)["version"] == "1.2.3"
    source = HOLD_SOURCE + "# v2\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.patch(_detail(strategy), {"strategyCode": source}, format="json")
    assert response.json()["strategy"]["version"] == "1.2.4"
    settings = strategy_settings_get(strategy_id=strategy.id)
    assert settings["version"] == "1.2.4"
    assert settings["strategyCode"] == source
    unchanged = auth_client.patch(_detail(strategy), {"strategyCode": source}, format="json")
    assert unchanged.json()["strategy"]["version"] == "1.2.4"


def test_update_of_the_config_merges_and_validates(auth_client, user):
    strategy = StrategyFactory(user=user)
    response = auth_client.patch(
        _detail(strategy), {"executionConfig": {"lookbackPeriod": 20}}, format="json"
    )
    assert response.json()["strategy"]["executionConfig"] == {
        "symbol": "BTCUSDT",
        "resolution": 5,
        "lookbackPeriod": 20,
        "params": {},
    }
    bad = auth_client.patch(
        _detail(strategy), {"executionConfig": {"resolution": 2}}, format="json"
    )
    _assert_error(bad, 400)
    bad_source = auth_client.put(_detail(strategy), {"strategyCode": "def ("}, format="json")
    _assert_error(bad_source, 400)


def test_update_refuses_fields_it_does_not_take_naming_them(auth_client, user, other_user):
    strategy = StrategyFactory(user=user)
    body = {
        "subscriberCount": 99,
        "author": "x@y.z",
        "userId": str(other_user.id),
        "isMarketplace": True,
        "id": "00000000-0000-0000-0000-000000000001",
        "nmae": "typo",
        "name": "Renamed",
    }
    response = auth_client.put(_detail(strategy), body, format="json")
    _assert_error(response, 400)
    error = response.json()
    assert error["error"].startswith(
        "Unknown or read-only fields: author, id, isMarketplace, nmae, subscriberCount, userId"
    )
    assert "writable: name, code, description, strategyCode" in error["error"]
    assert set(error["details"]) == {
        "author",
        "id",
        "isMarketplace",
        "nmae",
        "subscriberCount",
        "userId",
    }
    strategy.refresh_from_db()
    assert strategy.name != "Renamed"
    assert strategy.subscriber_count == 0
    assert strategy.author == user.email
    assert strategy.is_marketplace is False
    renamed = auth_client.patch(_detail(strategy), {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200
    assert renamed.json()["strategy"]["name"] == "Renamed"


def test_update_to_a_taken_code_answers_409(auth_client, user):
    StrategyFactory(code="taken")
    strategy = StrategyFactory(user=user)
    _assert_error(auth_client.patch(_detail(strategy), {"code": "taken"}, format="json"), 409)


def test_another_user_cannot_change_or_delete(other_client, api_client, user):
    strategy = StrategyFactory(user=user)  # public: others may read it, not change it
    for method in ("put", "patch", "delete"):
        call = getattr(other_client, method)
        _assert_error(call(_detail(strategy), {"name": "Hijacked"}, format="json"), 404)
        _assert_error(getattr(api_client, method)(_detail(strategy)), 401)
    strategy.refresh_from_db()
    assert strategy.name != "Hijacked"
    assert strategy.is_active


# --- delete -----------------------------------------------------------------------------


def test_delete_is_refused_while_a_subscription_is_active(auth_client, user):
    strategy = StrategyFactory(user=user)
    SubscriptionFactory(strategy=strategy)
    body = _assert_error(auth_client.delete(_detail(strategy)), 400)
    assert "active subscriptions" in body["error"]
    strategy.refresh_from_db()
    assert strategy.is_active


def test_delete_is_a_soft_delete(auth_client, api_client, user):
    strategy = StrategyFactory(user=user)
    SubscriptionFactory(strategy=strategy, is_active=False)
    response = auth_client.delete(_detail(strategy))
    assert response.status_code == 200
    assert response.json() == {"message": "Strategy deleted"}
    strategy.refresh_from_db()
    assert strategy.is_active is False
    assert api_client.get(URL).json()["strategies"] == []
    _assert_error(api_client.get(_detail(strategy)), 404)


def test_browsable_api_renders_for_authors(auth_client, user):
    strategy = StrategyFactory(user=user)
    for url in (URL, _detail(strategy)):
        response = auth_client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert b"strategy_code" in response.content or b"strategyCode" in response.content


def test_browsable_api_never_shows_the_source_to_others(other_client, api_client, user):
    marker = "# private-marker-8372"
    strategy = StrategyFactory(user=user, strategy_code=HOLD_SOURCE + marker + "\n")
    for client in (other_client, api_client):
        response = client.get(_detail(strategy), HTTP_ACCEPT="text/html")
        assert response.status_code == 200
        assert marker.encode() not in response.content


def test_a_bearer_token_from_login_works(api_client, user):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_for_user(user)['token']}")
    response = api_client.post(URL, _payload(), format="json")
    assert response.status_code == 201
    assert response.json()["strategy"]["author"] == user.email
