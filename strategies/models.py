import uuid

from django.conf import settings
from django.db import models

from .risk import DEFAULT_COLUMNS


class Strategy(models.Model):
    """An author's uploaded strategy. `execution_config` holds
    `{symbol, resolution, lookbackPeriod, params}` (camelCase keys, as on the wire)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="strategies"
    )
    name = models.CharField(max_length=200)
    code = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    author = models.CharField(max_length=254, blank=True, default="")
    version = models.CharField(max_length=32, default="1.0.0")
    strategy_code = models.TextField()
    execution_config = models.JSONField(default=dict)
    is_active = models.BooleanField(default=True)
    is_public = models.BooleanField(default=False)
    is_marketplace = models.BooleanField(default=False)
    subscriber_count = models.PositiveIntegerField(default=0)
    tags = models.CharField(max_length=500, blank=True, default="")
    # The author's recommended risk settings (strategies.risk): a subscription that omits
    # one takes it; null means the platform default. Subscribers need `min_capital` at least.
    default_risk_per_trade = models.DecimalField(
        max_digits=10, decimal_places=6, null=True, blank=True
    )
    default_leverage = models.PositiveSmallIntegerField(null=True, blank=True)
    default_max_positions = models.PositiveIntegerField(null=True, blank=True)
    default_max_daily_loss = models.DecimalField(
        max_digits=10, decimal_places=6, null=True, blank=True
    )
    min_capital = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "strategies"
        indexes = [
            models.Index(fields=["is_active", "is_public", "-created_at"]),
            models.Index(fields=["user", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def symbol(self) -> str:
        return str(self.execution_config.get("symbol", "")).upper()

    @property
    def resolution(self) -> int:
        return int(self.execution_config.get("resolution", 0))

    @property
    def lookback_period(self) -> int:
        return int(self.execution_config.get("lookbackPeriod", 100))

    def recommended(self, name: str):
        """The author's recommended value of the risk setting `name` (None: none)."""
        return getattr(self, DEFAULT_COLUMNS[name])
