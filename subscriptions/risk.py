"""A subscriber's risk settings and their defaults, defined once (pure: no Django).

The subscription model, its API and admin, the live engine and the backtests all read
the names and defaults from here. `leverage` caps a position's notional at
capital x leverage; it never multiplies the risk (see `executions.trading.rules`).
"""

from dataclasses import dataclass
from decimal import Decimal

# What a subscription takes for a setting neither the subscriber nor the strategy's author
# (`Strategy.default_*`) gives.
DEFAULT_RISK_PER_TRADE = Decimal("0.01")
DEFAULT_LEVERAGE = 10
DEFAULT_MAX_POSITIONS = 1
DEFAULT_MAX_DAILY_LOSS = Decimal("0.05")  # a fraction of the capital, per UTC day

# The subscriber's risk settings: the only writable part of a subscription.
RISK_FIELDS = (
    "capital",
    "risk_per_trade",
    "leverage",
    "max_positions",
    "max_daily_loss",
    "sl_atr_multiplier",
    "tp_atr_multiplier",
)

# The settings as the API's schema examples show them (a subscription's, a backtest's).
RISK_EXAMPLE = {
    "capital": 10000,
    "riskPerTrade": 0.01,
    "leverage": DEFAULT_LEVERAGE,
    "maxPositions": DEFAULT_MAX_POSITIONS,
    "maxDailyLoss": 0.05,
    "slAtrMultiplier": 1.5,
    "tpAtrMultiplier": 3,
}


@dataclass(frozen=True)
class RiskSettings:
    """What sizing and eligibility need of a subscriber (or of a backtest's settings)."""

    capital: Decimal
    risk_per_trade: Decimal
    leverage: int = DEFAULT_LEVERAGE
    max_positions: int = DEFAULT_MAX_POSITIONS
    max_daily_loss: Decimal = DEFAULT_MAX_DAILY_LOSS
    sl_atr_multiplier: Decimal | None = None
    tp_atr_multiplier: Decimal | None = None
