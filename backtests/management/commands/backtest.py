from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from backtests.metrics import metrics_rows
from backtests.models import Backtest
from backtests.replay import backtest_run
from backtests.services import backtest_create
from executions.management.arguments import aware_datetime
from marketdata.candles import RESOLUTIONS
from strategies.models import Strategy
from subscriptions.risk import DEFAULT_LEVERAGE, DEFAULT_MAX_DAILY_LOSS, DEFAULT_MAX_POSITIONS
from tradeplatform.api import ApplicationError

BAR_WIDTH = 30


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise CommandError(f"{text!r} is not a number") from exc


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """`[#####     ]  50% 5/10`: plain text, redrawn in place with a carriage return."""
    fraction = done / total if total else 1.0
    filled = int(fraction * width)
    return f"[{'#' * filled}{' ' * (width - filled)}] {fraction:4.0%} {done}/{total}"


class Command(BaseCommand):
    help = (
        "Backtest a strategy over the stored candles, here and now (no Celery), with a "
        "progress bar; prints the metrics table. The run is kept as a Backtest row."
    )

    def add_arguments(self, parser):
        parser.add_argument("--strategy", required=True, help="the strategy's code")
        parser.add_argument("--start", required=True, help="first candle close (ISO 8601)")
        parser.add_argument("--end", required=True, help="last candle close (ISO 8601)")
        parser.add_argument("--capital", default="10000")
        parser.add_argument("--risk-per-trade", default="0.01")
        parser.add_argument("--leverage", type=int, default=DEFAULT_LEVERAGE)
        parser.add_argument("--max-positions", type=int, default=DEFAULT_MAX_POSITIONS)
        parser.add_argument("--max-daily-loss", default=str(DEFAULT_MAX_DAILY_LOSS))
        parser.add_argument("--sl-atr-multiplier", default=None)
        parser.add_argument("--tp-atr-multiplier", default=None)
        parser.add_argument("--fee-rate", default="0")
        parser.add_argument("--slippage", default="0")
        parser.add_argument("--symbol", default=None, help="default: the strategy's")
        parser.add_argument("--resolution", type=int, choices=RESOLUTIONS, default=None)

    def handle(self, *args, **options):
        strategy = Strategy.objects.filter(code=options["strategy"]).first()
        if strategy is None:
            raise CommandError(f"no strategy with the code {options['strategy']!r}")
        optional = {
            name: _decimal(options[name])
            for name in ("sl_atr_multiplier", "tp_atr_multiplier")
            if options[name] is not None
        }
        try:
            backtest = backtest_create(
                user=strategy.user,
                strategy_id=strategy.id,
                start=aware_datetime(options["start"], "--start"),
                end=aware_datetime(options["end"], "--end"),
                capital=_decimal(options["capital"]),
                risk_per_trade=_decimal(options["risk_per_trade"]),
                leverage=options["leverage"],
                max_positions=options["max_positions"],
                max_daily_loss=_decimal(options["max_daily_loss"]),
                fee_rate=_decimal(options["fee_rate"]),
                slippage=_decimal(options["slippage"]),
                symbol=options["symbol"],
                resolution=options["resolution"],
                enqueue=False,
                **optional,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"backtest {backtest.id}: {strategy.code} on {backtest.symbol}:{backtest.resolution}"
        )

        def show(done: int, total: int) -> None:
            self.stdout.write("\r" + progress_bar(done, total), ending="")
            self.stdout.flush()

        backtest_run(backtest_id=backtest.id, progress=show)
        backtest.refresh_from_db()
        self.stdout.write("")
        if backtest.status not in Backtest.DONE:
            raise CommandError(f"backtest {backtest.status}: {backtest.error_message}")
        self.stdout.write(f"{backtest.status}: {backtest.message}")
        rows = metrics_rows(backtest.metrics)
        width = max(len(label) for label, _ in rows)
        for label, shown in rows:
            self.stdout.write(f"{label:<{width}}  {shown}")
