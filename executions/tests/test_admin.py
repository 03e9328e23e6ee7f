import pytest

from executions.tests.factories import ExecutionFactory, TradeFactory

pytestmark = pytest.mark.django_db


def test_execution_page_shows_its_trades_and_the_captured_output_escaped(admin_client):
    trade = TradeFactory()
    execution = trade.execution
    execution.execution_log = 'computing <b>signal</b>\nline 2 "quoted"'
    execution.save()
    response = admin_client.get(f"/admin/executions/strategyexecution/{execution.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "computing &lt;b&gt;signal&lt;/b&gt;\nline 2 &quot;quoted&quot;</pre>" in html
    assert str(trade.subscription) in html
    # Read-only: no form inputs for the execution or its trades.
    assert 'name="status"' not in html
    assert 'name="trades-0-quantity"' not in html


def test_execution_list_filters(admin_client):
    execution = ExecutionFactory()
    for query in (
        "status__exact=COMPLETED",
        f"strategy__id__exact={execution.strategy_id}",
        "resolution__exact=5",
        "candle_close__year=2026&candle_close__month=1",
    ):
        response = admin_client.get(f"/admin/executions/strategyexecution/?{query}")
        assert response.status_code == 200, query
        assert str(execution.pk) in response.content.decode(), query


def test_trade_pages_render(admin_client):
    trade = TradeFactory()
    assert admin_client.get("/admin/executions/trade/").status_code == 200
    assert admin_client.get(f"/admin/executions/trade/{trade.pk}/change/").status_code == 200
