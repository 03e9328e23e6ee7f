"""The operators' admin index: the platform's sections first, the frameworks' after them;
every time shown in UTC, saying so."""

from datetime import UTC, datetime

import pytest

from strategies.tests.factories import StrategyFactory

pytestmark = pytest.mark.django_db


def test_platform_sections_come_first_and_frameworks_are_named_so(admin_client):
    page = admin_client.get("/admin/").content.decode()
    positions = {
        name: page.index(name)
        for name in ("Strategies", "Subscriptions", "Executions", "Framework: Periodic Tasks")
    }
    assert positions["Strategies"] < positions["Framework: Periodic Tasks"]
    assert positions["Executions"] < positions["Framework: Periodic Tasks"]
    assert "Framework: Axes" in page and "Framework: Token Blacklist" in page


def test_times_are_shown_in_utc_with_the_zone(admin_client):
    strategy = StrategyFactory()
    type(strategy).objects.filter(pk=strategy.pk).update(
        created_at=datetime(2026, 1, 15, 15, 0, 7, tzinfo=UTC)
    )
    page = admin_client.get(f"/admin/strategies/strategy/{strategy.pk}/change/").content.decode()
    assert "2026-01-15 15:00:07 UTC" in page
    listing = admin_client.get("/admin/strategies/strategy/").content.decode()
    assert "2026-01-15 15:00:07 UTC" in listing
