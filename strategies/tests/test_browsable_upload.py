"""Uploading through the browsable API, as a person in a browser does: the real HTML pages
of DRF's browsable API, a session login and form posts (multipart, like the page's form)."""

import html
import re

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from strategies.models import Strategy
from strategies.serializers import SOURCE_TEMPLATE
from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db

URL = "/api/strategy-upload/strategies"
SOURCE = (
    "from indicators import sma\n"
    "\n"
    "\n"
    "def generate_signal(candles, params):\n"
    "    if candles.close[-1] > sma(candles.close, 5)[-1]:\n"
    '        return {"action": "BUY", "stopLoss": candles.low[-1] * 0.99}\n'
    '    return {"action": "HOLD"}\n'
)
BROKEN = 'def generate_signal(candles, params):\n    return {"action": "HOLD"}\n    x = = 1\n'


@pytest.fixture
def browser(user):
    client = Client(HTTP_ACCEPT="text/html")
    client.force_login(user)
    return client


def _form(**fields) -> dict:
    return {
        "name": "Browser upload",
        "code": "browser-upload",
        "description": "",
        "strategy_code": SOURCE,
        "execution_config": '{"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 50}',
        "tags": "trend",
        **fields,
    }


def _textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1))


def _raw_template(page: str) -> str:
    match = re.search(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "no raw data form"
    return html.unescape(match.group(1))


def test_the_upload_form_has_a_code_area_and_a_camel_case_template(browser):
    page = browser.get(URL).content.decode()
    assert _textarea(page, "strategy_code").strip() == SOURCE_TEMPLATE.strip()
    assert '"symbol": "BTCUSDT"' in _textarea(page, "execution_config")
    raw = _raw_template(page)
    assert '"strategyCode"' in raw and '"executionConfig"' in raw and '"isPublic"' in raw
    assert '"lookbackPeriod": 100' in raw
    assert "strategy_code" not in raw and "is_public" not in raw
    assert 'href="/docs/strategy-guide"' in page


def test_a_multi_line_upload_from_the_form_keeps_its_lines(browser, user):
    response = browser.post(URL, _form())
    assert response.status_code == 201, response.content.decode()[:2000]
    strategy = Strategy.objects.get(code="browser-upload")
    assert strategy.strategy_code == SOURCE
    assert strategy.user == user
    assert strategy.is_public is False


def test_a_browsers_crlf_line_endings_are_stored_as_newlines(browser):
    # Browsers send a textarea's lines with CRLF (the HTML form encoding).
    response = browser.post(URL, _form(strategy_code=SOURCE.replace("\n", "\r\n")))
    assert response.status_code == 201
    assert Strategy.objects.get(code="browser-upload").strategy_code == SOURCE


def test_the_template_itself_uploads(browser):
    response = browser.post(URL, _form(strategy_code=SOURCE_TEMPLATE))
    assert response.status_code == 201


def test_a_refused_upload_keeps_the_input_and_names_the_line(browser):
    response = browser.post(URL, _form(strategy_code=BROKEN, name="Kept name"))
    assert response.status_code == 400
    page = response.content.decode()
    assert _textarea(page, "strategy_code") == BROKEN
    assert 'value="Kept name"' in page
    assert "Syntax error on line 3" in page
    assert '"symbol": "BTCUSDT"' in _textarea(page, "execution_config")
    # A refusal by the serializer itself (invalid JSON) keeps the input as well.
    bad_json = browser.post(URL, _form(execution_config="{nope"))
    assert bad_json.status_code == 400
    assert _textarea(bad_json.content.decode(), "strategy_code") == SOURCE


def test_a_refused_raw_json_upload_keeps_the_body_in_camel_case(browser):
    body = (
        '{"name": "Raw", "code": "raw-one", "strategyCode": "def (", '
        '"executionConfig": {"symbol": "BTCUSDT", "resolution": 5, "params": {"my_key": 1}}}'
    )
    response = browser.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    raw = _raw_template(response.content.decode())
    assert '"strategyCode": "def ("' in raw
    assert '"my_key": 1' in raw  # the author's own keys untouched


def test_the_strategy_page_shows_the_source_as_code_and_links_its_history(browser, user):
    strategy = StrategyFactory(user=user, strategy_code=SOURCE)
    page = browser.get(f"{URL}/{strategy.id}").content.decode()
    match = re.search(r'<pre class="strategy-source"><code>(.*?)</code></pre>', page, re.S)
    assert match and html.unescape(match.group(1)) == SOURCE
    assert f'href="{URL}/{strategy.id}/executions"' in page
    assert f'href="{URL}/{strategy.id}/backtests"' in page
    # The edit form starts from the stored source, in a code area.
    assert _textarea(page, "strategy_code") == SOURCE


def test_another_users_strategy_page_shows_neither_source_nor_executions(browser):
    strategy = StrategyFactory(strategy_code=SOURCE)  # public, someone else's
    page = browser.get(f"{URL}/{strategy.id}").content.decode()
    assert '<pre class="strategy-source">' not in page
    assert "candles.low[-1] * 0.99" not in page
    assert 'data-method="PUT"' not in page  # no edit form for it
    assert f"{strategy.id}/executions" not in page
    assert f'href="{URL}/{strategy.id}/backtests"' in page


def test_the_edit_form_puts_a_multi_line_source(browser, user):
    strategy = StrategyFactory(user=user)
    body = encode_multipart(BOUNDARY, _form(code=strategy.code, csrfmiddlewaretoken="x"))
    response = browser.put(f"{URL}/{strategy.id}", body, content_type=MULTIPART_CONTENT)
    assert response.status_code == 200, response.content.decode()[:2000]
    strategy.refresh_from_db()
    assert strategy.strategy_code == SOURCE
    assert strategy.version == "1.0.1"


def test_an_anonymous_visitor_sees_the_page_without_forms_or_source():
    strategy = StrategyFactory(strategy_code=SOURCE)
    response = Client(HTTP_ACCEPT="text/html").get(f"{URL}/{strategy.id}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "candles.low[-1] * 0.99" not in page
    assert 'data-method="PUT"' not in page
    assert "/backtests" not in page
