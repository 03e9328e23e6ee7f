from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory

from marketdata.models import Candle


class CandleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Candle

    symbol = "BTCUSDT"
    resolution = 5
    open_time = factory.Sequence(
        lambda n: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * n)
    )
    open = Decimal("100")
    high = Decimal("101")
    low = Decimal("99")
    close = Decimal("100")
    volume = Decimal("10")
