from django.db import models

from marketdata.candles import RESOLUTION_CHOICES

PRICE = {"max_digits": 24, "decimal_places": 8}


class Candle(models.Model):
    """One closed OHLCV bar; `open_time` is its start, its close is open_time + resolution.

    The table keeps the name it had when candles belonged to the executions app."""

    symbol = models.CharField(max_length=30)
    resolution = models.PositiveIntegerField(choices=RESOLUTION_CHOICES)
    open_time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(max_digits=30, decimal_places=8)

    class Meta:
        db_table = "executions_candle"
        ordering = ["symbol", "resolution", "open_time"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol", "resolution", "open_time"], name="one_candle_per_bar"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol}:{self.resolution} {self.open_time:%Y-%m-%d %H:%M}"
