"""The browsable API's upload form in a real browser (Debian's chromium): a person logs in,
pastes a multi-line strategy into the code area and posts the form."""

from accounts.tests.factories import TEST_PASSWORD, UserFactory
from strategies.models import Strategy
from tradeplatform.tests.helpers import BROWSER_MARKS, browser_page

pytestmark = BROWSER_MARKS

SOURCE = (
    "def generate_signal(candles, params):\n"
    "    if candles.close[-1] > candles.open[-1]:\n"
    '        return {"action": "BUY", "stopLoss": candles.low[-1] * 0.99}\n'
    '    return {"action": "HOLD"}\n'
)
BROKEN = 'def generate_signal(candles, params):\n    return {"action": "HOLD"}\n    x = = 1\n'


def _upload(page, source: str, code: str) -> str:
    form = page.locator("#post-object-form form")
    page.click("a[name=html-tab]")
    form.locator("input[name=name]").fill("From the browser")
    form.locator("input[name=code]").fill(code)
    form.locator("textarea[name=strategy_code]").fill(source)
    form.locator("button.btn-primary").click()
    page.wait_for_load_state("load")
    return page.locator(".response-info").inner_text()


def test_a_pasted_multi_line_strategy_uploads_from_the_form(live_server, db):
    author = UserFactory(email="author@example.com")
    # The ORM stays outside Playwright's event loop: rows before it starts, checks after.
    with browser_page(viewport={"width": 1400, "height": 1000}) as page:
        page.goto(f"{live_server.url}/api-auth/login/?next=/api/strategy-upload/strategies")
        page.fill("#id_username", author.email)
        page.fill("#id_password", TEST_PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url("**/api/strategy-upload/strategies")
        refused = _upload(page, BROKEN, "from-the-browser")
        kept = page.locator("textarea[name=strategy_code]").input_value()
        answer = _upload(page, SOURCE, "from-the-browser")
    assert "HTTP 400" in refused and "Syntax error on line 3" in refused
    assert kept == BROKEN  # the form kept what was typed
    assert "HTTP 201" in answer
    strategy = Strategy.objects.get(code="from-the-browser")
    # The browser posts the lines with CRLF; the source is stored with newlines.
    assert strategy.strategy_code == SOURCE and strategy.user == author
