from decimal import Decimal

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


def test_records_have_no_delete_and_trades_show_their_user(admin_client):
    trade = TradeFactory(quantity=Decimal("0.012500000000"), pnl=Decimal("125.00000002"))
    execution = trade.execution
    page = admin_client.get(
        f"/admin/executions/strategyexecution/{execution.pk}/change/"
    ).content.decode()
    assert "deletelink" not in page
    assert admin_client.get(
        f"/admin/executions/strategyexecution/{execution.pk}/delete/"
    ).status_code in (302, 403)
    listing = admin_client.get("/admin/executions/trade/").content.decode()
    assert trade.subscription.user.email in listing
    assert "delete_selected" not in listing
    assert "0.0125<" in listing and "125.00<" in listing
    assert "0.012500000000" not in listing and "125.00000002" not in listing


def test_the_signal_reads_without_float_noise(admin_client):
    execution = ExecutionFactory(signal={"action": "BUY", "stopLoss": 49505.869999999995})
    page = admin_client.get(
        f"/admin/executions/strategyexecution/{execution.pk}/change/"
    ).content.decode()
    assert "stopLoss: 49505.87" in page
    assert "49505.869999999995" not in page


def test_the_execution_list_shows_and_filters_the_closes_missed_in_the_last_hour(admin_client):
    from django.utils import timezone

    missed = ExecutionFactory(
        status="SKIPPED",
        error_message="missed: the queue was 75 s behind",
        completed_at=timezone.now(),
    )
    ran = ExecutionFactory()
    response = admin_client.get("/admin/executions/strategyexecution/?missed=hour")
    html = response.content.decode()
    assert "1 candle close(s) missed in the last hour" in html
    assert str(missed.pk) in html and str(ran.pk) not in html
