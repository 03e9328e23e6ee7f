"""Example strategies shipped with the platform, kept as real source files.

The files are strategy source, not modules of this project: they `import indicators`,
which only exists inside the sandbox, so they are read as text (`example_source`) and
uploaded like any author's code. `seed_demo` loads them; the tests run them directly.
"""

from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    code: str
    name: str
    filename: str
    description: str
    tags: str
    # Enough bars for the slowest indicator plus its warm-up.
    lookback_period: int
    params: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        return example_source(self.filename)


EXAMPLES = (
    Example(
        code="sma-crossover",
        name="SMA crossover 5/20",
        filename="sma_crossover.py",
        description="Long when SMA(5) crosses above SMA(20), short on the cross below; "
        "stop 1.5 ATR, target 3 ATR.",
        tags="trend,sma,example",
        lookback_period=60,
        params={"fastPeriod": 5, "slowPeriod": 20, "atrPeriod": 14},
    ),
    Example(
        code="rsi-mean-reversion",
        name="RSI(7) mean reversion",
        filename="rsi_mean_reversion.py",
        description="Long when RSI(7) climbs back above 30, short when it falls back below "
        "70; stop 1 ATR, target 2 ATR.",
        tags="mean-reversion,rsi,example",
        lookback_period=60,
        params={"rsiPeriod": 7, "oversold": 30, "overbought": 70},
    ),
    Example(
        code="donchian-breakout",
        name="Donchian breakout 15",
        filename="donchian_breakout.py",
        description="Long on a close above the 15-bar high, short below the 15-bar low; "
        "stop at the channel middle, target 2.5 ATR.",
        tags="breakout,donchian,example",
        lookback_period=60,
        params={"channelPeriod": 15, "atrPeriod": 14},
    ),
)


def example_source(filename: str) -> str:
    return (EXAMPLES_DIR / filename).read_text()
