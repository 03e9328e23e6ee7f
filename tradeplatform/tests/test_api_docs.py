"""The OpenAPI description: valid, warning-free, camelCase, with the error envelope, and
its two UIs served from our own static files."""

import pytest
import yaml
from django.core.management import call_command

from executions.models import Trade

pytestmark = pytest.mark.django_db


def test_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn: a view the generator cannot describe breaks the build, not the docs.
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"


def test_schema_endpoint_documents_the_wire_contract(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]) == {"error", "details"}
    login = schema["paths"]["/auth/login"]["post"]
    assert login["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    # camelCase on the wire, no trailing slash on the paths.
    me = schema["paths"]["/auth/me"]["get"]
    assert {"jwtAuth": []} in me["security"]
    assert "401" in me["responses"]
    assert not [path for path in schema["paths"] if path.endswith("/")]
    # Lists answer {<things>: [...], pagination: {...}}, named after the view's key.
    strategies = schema["paths"]["/api/strategy-upload/strategies"]["get"]
    listing = strategies["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][listing.rsplit("/", 1)[1]]
    assert page["required"] == ["strategies", "pagination"]
    assert set(page["properties"]["pagination"]["properties"]) == {
        "page",
        "limit",
        "total",
        "pages",
    }
    # A delete answers {message} with 200, as the SPA expects.
    delete = schema["paths"]["/api/strategy-upload/strategies/{id}"]["delete"]
    assert "200" in delete["responses"] and "204" not in delete["responses"]
    for component in schema["components"]["schemas"].values():
        assert not [name for name in component.get("properties", {}) if "_" in name]


@pytest.mark.parametrize(
    ("path", "asset"),
    [("/api/docs/", "drf_spectacular_sidecar/swagger-ui-dist"), ("/api/redoc/", "redoc")],
)
def test_docs_pages_use_local_assets_only(api_client, path, asset):
    response = api_client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert asset in html
    assert "cdn." not in html
    assert "unpkg" not in html


def test_the_redoc_bundle_is_served_without_its_cdn_logo(api_client):
    page = api_client.get("/api/redoc/").content.decode()
    assert '<script src="/api/redoc/redoc.standalone.js">' in page
    response = api_client.get("/api/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = response.content.decode()
    assert "Redoc" in bundle and 'alt:"redocly logo"' in bundle
    assert "cdn.redoc.ly" not in bundle


def _schema(api_client) -> dict:
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return response.json()


def test_the_schema_states_the_rules_the_serializers_enforce(api_client):
    schema = _schema(api_client)
    components = schema["components"]["schemas"]
    subscribe = components["SubscribeInputRequest"]["properties"]
    assert subscribe["capital"]["minimum"] == 0 and subscribe["capital"]["exclusiveMinimum"]
    assert subscribe["riskPerTrade"]["minimum"] == 0
    assert subscribe["riskPerTrade"]["exclusiveMinimum"] and subscribe["riskPerTrade"]["maximum"]
    assert subscribe["maxDailyLoss"]["exclusiveMinimum"]
    assert subscribe["slAtrMultiplier"]["exclusiveMinimum"]
    assert (subscribe["leverage"]["minimum"], subscribe["leverage"]["maximum"]) == (1, 125)
    assert all(field.get("description") for field in subscribe.values())
    password = components["RegisterInputRequest"]["properties"]["password"]
    assert password["minLength"] == 8 and "common" in password["description"]
    backtest = components["BacktestInputRequest"]["properties"]
    assert backtest["symbol"]["pattern"].startswith("^[A-Za-z0-9]")
    # Every operation says what it does, and the upload's throttle is documented.
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("description"), f"{method} {path}"
    upload = schema["paths"]["/api/strategy-upload/strategies"]["post"]
    assert "429" in upload["responses"]
    trades = schema["paths"]["/api/strategies/subscriptions/{subscription_pk}/trades"]["get"]
    (status,) = [p for p in trades["parameters"] if p["name"] == "status"]
    assert sorted(status["schema"]["enum"]) == sorted(Trade.Status.values)


def test_try_it_out_starts_from_sensible_examples(api_client):
    schema = _schema(api_client)
    subscribe = schema["paths"]["/api/strategies/{strategy_pk}/subscribe"]["post"]
    (example,) = subscribe["requestBody"]["content"]["application/json"]["examples"].values()
    assert example["value"]["capital"] == 10000
    assert example["value"]["riskPerTrade"] == 0.01
    upload = schema["paths"]["/api/strategy-upload/strategies"]["post"]
    (example,) = upload["requestBody"]["content"]["application/json"]["examples"].values()
    assert "def generate_signal(candles, params)" in example["value"]["strategyCode"]
    assert example["value"]["isPublic"] is False


def test_the_docs_pages_forbid_outside_resources(api_client):
    for path in ("/api/docs/", "/api/redoc/"):
        response = api_client.get(path)
        assert response["Content-Security-Policy"].startswith("default-src 'self'")
        assert "fonts.googleapis" not in response.content.decode()
