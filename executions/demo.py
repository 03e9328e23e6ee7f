"""Demo data for development: `python manage.py seed_demo` (`make run` calls it at every
start).

The demo is seeded once, on an empty database (no user yet): two users, the example
strategies, a paper credential and the subscriptions, through the same services as the
API, so counters and the candle registry are right. After that it is the user's data:
a later run never creates, updates or brings back any of it (a cancelled subscription
stays cancelled, a deleted or edited strategy stays as the user left it). Every run tops
the demo candles up to the current minute, so the first candle close after a restart
has its lookback.

Lives in executions because it touches the apps below it (accounts, marketdata,
strategies, subscriptions); imports go one way.
"""

import secrets
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import BrokerCredential, User
from accounts.services import broker_credential_create
from marketdata.services import candles_backfill
from strategies.examples import EXAMPLES
from strategies.services import strategy_create
from subscriptions.services import subscription_create

ADMIN_EMAIL = "admin@example.com"
DEMO_EMAIL = "demo@example.com"
DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT")
DEMO_RESOLUTION = 1
# Extra closed candles beyond the longest lookback, so the first runs have history.
CANDLE_MARGIN = 20

# Risk settings per example, so the admin shows subscriptions that differ.
RISK_PROFILES = {
    "sma-crossover": {
        "capital": Decimal("10000"),
        "risk_per_trade": Decimal("0.01"),
        "leverage": 10,
        "max_positions": 1,
    },
    "rsi-mean-reversion": {
        "capital": Decimal("5000"),
        "risk_per_trade": Decimal("0.005"),
        "leverage": 5,
        "max_positions": 2,
        "max_daily_loss": Decimal("0.03"),
    },
    "donchian-breakout": {
        "capital": Decimal("25000"),
        "risk_per_trade": Decimal("0.02"),
        "leverage": 20,
        "max_positions": 3,
        "max_daily_loss": Decimal("0.10"),
        "sl_atr_multiplier": Decimal("1.5"),
        "tp_atr_multiplier": Decimal("3"),
    },
}


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)
    seeded: bool = False  # False: the database had users, the demo was left alone
    candles_added: int = 0


def demo_seed(*, admin_password: str, demo_password: str) -> SeedReport:
    """Seed the demo if the database has no user yet, then top up the demo candles."""
    report = SeedReport()
    with transaction.atomic():
        if not User.objects.exists():
            _demo_create(admin_password=admin_password, demo_password=demo_password, report=report)
            report.seeded = True
    count = max(example.lookback_period for example in EXAMPLES) + CANDLE_MARGIN
    for symbol in DEMO_SYMBOLS:
        report.candles_added += candles_backfill(
            symbol=symbol, resolution=DEMO_RESOLUTION, end_close=timezone.now(), count=count
        )
    return report


def _demo_create(*, admin_password: str, demo_password: str, report: SeedReport) -> None:
    admin = User.objects.create_superuser(email=ADMIN_EMAIL, password=admin_password)
    demo = User.objects.create_user(email=DEMO_EMAIL, password=demo_password)
    report.created += [f"user {ADMIN_EMAIL}", f"user {DEMO_EMAIL}"]
    # Random and never shown: the paper broker needs no real key.
    credential = broker_credential_create(
        user=demo,
        broker_name=BrokerCredential.PAPER,
        api_key=f"paper-{secrets.token_hex(16)}",
        api_secret=secrets.token_urlsafe(32),
    )
    report.created.append(f"paper broker credential of {DEMO_EMAIL}")
    for example in EXAMPLES:
        for symbol in DEMO_SYMBOLS:
            code = f"{example.code}-{symbol.lower()}"
            strategy = strategy_create(
                user=admin,
                name=f"{example.name} · {symbol}",
                code=code,
                strategy_code=example.source,
                execution_config={
                    "symbol": symbol,
                    "resolution": DEMO_RESOLUTION,
                    "lookbackPeriod": example.lookback_period,
                    "params": example.params,
                },
                description=example.description,
                tags=example.tags,
                is_public=True,  # the demo user subscribes to them
            )
            subscription_create(
                user=demo,
                strategy_id=strategy.id,
                broker_credential_id=credential.id,
                **RISK_PROFILES[example.code],
            )
            report.created += [f"strategy {code}", f"subscription {DEMO_EMAIL} → {code}"]
