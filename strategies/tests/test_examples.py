"""The shipped example strategies, run directly on hand-made candle series.

The strategies import the sandbox's `indicators` module, so its directory goes on sys.path,
exactly the module the sandbox offers them.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

from strategies.examples import EXAMPLES, EXAMPLES_DIR

SANDBOX_DIR = Path(__file__).resolve().parents[2] / "executions" / "sandbox"


class Candles:
    def __init__(self, closes, highs=None, lows=None):
        self.close = list(closes)
        self.open = [self.close[0], *self.close[:-1]]
        self.high = list(highs) if highs else [value + 0.5 for value in self.close]
        self.low = list(lows) if lows else [value - 0.5 for value in self.close]
        self.volume = [10.0] * len(self.close)
        self.time = list(range(len(self.close)))

    def __len__(self):
        return len(self.close)


@pytest.fixture(scope="module")
def load():
    sys.path.insert(0, str(SANDBOX_DIR))
    try:

        def _load(filename):
            spec = importlib.util.spec_from_file_location(
                f"example_{filename[:-3]}", EXAMPLES_DIR / filename
            )
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module.generate_signal

        yield _load
    finally:
        sys.path.remove(str(SANDBOX_DIR))


def _config(example):
    return {"symbol": "BTCUSDT", "resolution": 1, "lookbackPeriod": 60, "params": example.params}


def _example(code):
    return next(example for example in EXAMPLES if example.code == code)


def _assert_long(signal, entry):
    assert signal["action"] == "BUY"
    assert signal["entryPrice"] == entry
    assert signal["stopLoss"] < entry < signal["takeProfit"]


def _assert_short(signal, entry):
    assert signal["action"] == "SELL"
    assert signal["entryPrice"] == entry
    assert signal["takeProfit"] < entry < signal["stopLoss"]


DECLINE = [100.0 - index for index in range(30)]  # 100 … 71
RISE = [71.0 + index for index in range(30)]  # 71 … 100
FLAT = [100.0, 100.5] * 20


def test_sma_crossover_buys_on_the_cross_up_and_sells_on_the_cross_down(load):
    signal_for = load("sma_crossover.py")
    params = _config(_example("sma-crossover"))
    _assert_long(signal_for(Candles([*DECLINE, 130.0]), params), 130.0)
    _assert_short(signal_for(Candles([*RISE, 40.0]), params), 40.0)
    assert signal_for(Candles(DECLINE), params) == {"action": "HOLD"}
    assert signal_for(Candles(DECLINE[:10]), params) == {"action": "HOLD"}


def test_rsi_mean_reversion_buys_the_bounce_and_sells_the_drop(load):
    signal_for = load("rsi_mean_reversion.py")
    params = _config(_example("rsi-mean-reversion"))
    _assert_long(signal_for(Candles([*DECLINE, 76.0]), params), 76.0)
    _assert_short(signal_for(Candles([*RISE, 95.0]), params), 95.0)
    assert signal_for(Candles(DECLINE), params) == {"action": "HOLD"}
    assert signal_for(Candles(DECLINE[:5]), params) == {"action": "HOLD"}


def test_donchian_breakout_trades_only_the_breakout_bar(load):
    signal_for = load("donchian_breakout.py")
    params = _config(_example("donchian-breakout"))
    up = signal_for(Candles([*FLAT, 103.0]), params)
    _assert_long(up, 103.0)
    # The stop sits at the channel's middle at least one ATR away.
    assert up["stopLoss"] <= 100.25
    _assert_short(signal_for(Candles([*FLAT, 97.0]), params), 97.0)
    assert signal_for(Candles(FLAT), params) == {"action": "HOLD"}
    # Already outside the channel on the bar before: no new signal.
    assert signal_for(Candles([*FLAT, 103.0, 104.0]), params)["action"] == "HOLD"


def test_every_example_runs_in_the_real_sandbox():
    from executions.sandbox import run_strategy

    closes = [*FLAT, 103.0]
    candles = {
        "time": [f"2026-01-01T00:{minute:02d}:00Z" for minute in range(len(closes))],
        "open": closes,
        "high": [value + 0.5 for value in closes],
        "low": [value - 0.5 for value in closes],
        "close": closes,
        "volume": [10.0] * len(closes),
    }
    for example in EXAMPLES:
        result = run_strategy(example.source, candles, _config(example), backend="process")
        assert result.ok, (example.code, result.error)
        assert result.signal["action"] in ("BUY", "SELL", "HOLD"), example.code
    assert result.signal["action"] == "BUY"  # the breakout above the 15-bar high


def test_every_example_compiles_and_defines_generate_signal():
    for example in EXAMPLES:
        code = compile(example.source, example.filename, "exec")
        assert "generate_signal" in code.co_names
