"""Hostile strategy uploads: each is a 400 with a clear message, never a 500."""

import json

import pytest

from accounts.tests.factories import BrokerCredentialFactory
from strategies.models import Strategy
from strategies.tests.factories import HOLD_SOURCE, StrategyFactory

pytestmark = pytest.mark.django_db

URL = "/api/strategy-upload/strategies"


def _body(**overrides) -> dict:
    body = {
        "name": "Momentum",
        "code": "momentum-1",
        "strategyCode": HOLD_SOURCE,
        "executionConfig": {"symbol": "BTCUSDT", "resolution": 5, "params": {"fast": 1}},
    }
    body.update(overrides)
    return body


def _raw(replace: str, by: str, **overrides) -> bytes:
    """The JSON text of a body with one literal swapped for what json.dumps cannot write."""
    text = json.dumps(_body(**overrides))
    assert replace in text
    return text.replace(replace, by, 1).encode()


def _refused(client, body: bytes) -> str:
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert isinstance(payload["error"], str) and payload["error"]
    assert not Strategy.objects.exists()
    return payload["error"] + json.dumps(payload.get("details", {}))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(json.dumps(_body()).encode("utf-16"), id="utf-16"),
        pytest.param(
            json.dumps(_body(name="Été"), ensure_ascii=False).encode("latin-1"), id="latin-1"
        ),
        pytest.param(b'{"name": "\xff\xfe\xfd"}', id="invalid-bytes"),
        pytest.param(b"\xef\xbb\xbf" + json.dumps(_body()).encode()[:-1], id="truncated"),
    ],
)
def test_a_body_that_is_not_utf8_json(auth_client, body):
    assert "JSON parse error" in _refused(auth_client, body)


def test_a_declared_charset_does_not_relax_utf8(auth_client):
    body = json.dumps(_body(name="Été"), ensure_ascii=False).encode("latin-1")
    response = auth_client.post(URL, body, content_type="application/json; charset=latin-1")
    assert response.status_code == 400
    assert response.json() == {"error": "JSON parse error - the body must be UTF-8"}


def test_utf8_names_are_fine(auth_client):
    body = json.dumps(_body(name="Été ✓"), ensure_ascii=False).encode()
    response = auth_client.post(URL, body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["strategy"]["name"] == "Été ✓"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity(auth_client, literal):
    assert "JSON parse error" in _refused(auth_client, _raw('"fast": 1', f'"fast": {literal}'))


@pytest.mark.parametrize(
    ("literal", "message"),
    [
        ("1e400", "Number out of range: 1e400"),  # Python's json would read inf
        ("-1e400", "Number out of range: -1e400"),
        ("1e16", "beyond"),
        ("9" * 5000, "JSON parse error"),  # past Python's int digit limit
    ],
)
def test_absurd_numbers_in_params(auth_client, literal, message):
    assert message in _refused(auth_client, _raw('"fast": 1', f'"fast": {literal}'))


@pytest.mark.parametrize("literal", ["1e300", "123456789012345678901234567890", "-5", "2.5"])
def test_absurd_lookback(auth_client, literal):
    body = _raw('"fast": 1}', '"fast": 1}, "lookbackPeriod": ' + literal)
    assert "lookbackPeriod" in _refused(auth_client, body)


def test_params_nested_past_the_limit(auth_client):
    params = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    config = {"symbol": "BTCUSDT", "resolution": 5, "params": params}
    message = _refused(auth_client, json.dumps(_body(executionConfig=config)).encode())
    assert "nested deeper than 5 levels" in message


def test_json_nested_past_the_parser(auth_client):
    deep = '{"a": ' * 50_000 + "1" + "}" * 50_000
    assert "nested too deeply" in _refused(auth_client, _raw('{"fast": 1}', deep))


def test_params_too_large(auth_client):
    params = {f"k{n}": "x" * 100 for n in range(500)}
    config = {"symbol": "BTCUSDT", "resolution": 5, "params": params}
    assert "larger than 16 KB" in _refused(
        auth_client, json.dumps(_body(executionConfig=config)).encode()
    )


def test_source_over_the_size_limit(auth_client):
    source = HOLD_SOURCE + "#" * (100 * 1024)
    message = _refused(auth_client, json.dumps(_body(strategyCode=source)).encode())
    assert "larger than 100 KB" in message


def test_source_with_a_nul_byte(auth_client):
    source = HOLD_SOURCE + "x = '\x00'\n"
    assert "strategyCode" in _refused(auth_client, json.dumps(_body(strategyCode=source)).encode())


def test_body_over_the_upload_limit(auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200 * 1024
    body = json.dumps(_body(description="x" * 300 * 1024)).encode()
    assert "Request body is larger than" in _refused(auth_client, body)


def test_update_refuses_the_same(auth_client, user):
    strategy = StrategyFactory(user=user)
    response = auth_client.patch(
        f"{URL}/{strategy.id}", _raw('"fast": 1', '"fast": 1e400'), content_type="application/json"
    )
    assert response.status_code == 400
    strategy.refresh_from_db()
    assert strategy.execution_config["params"] == {}


@pytest.mark.parametrize("literal", ["1e400", "NaN", "9" * 5000, "1e30", "-5", "0"])
def test_absurd_subscription_capital(auth_client, user, literal):
    strategy = StrategyFactory()
    credential = BrokerCredentialFactory(user=user)
    body = (
        f'{{"capital": {literal}, "riskPerTrade": 0.01, "brokerCredentialId": "{credential.id}"}}'
    )
    response = auth_client.post(
        f"/api/strategies/{strategy.id}/subscribe", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]
