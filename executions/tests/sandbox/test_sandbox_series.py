"""Whole-history mode of the sandbox: one execution, one call per candle, only the past."""

import textwrap

import pytest

from executions.sandbox import SandboxLimits, run_strategy, run_strategy_series, series_limits

from .conftest import BACKENDS

LIMITS = SandboxLimits(wall_seconds=2.0, cpu_seconds=5, memory_mb=256)
COUNT = 40
CANDLES = {
    "time": [f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00+00:00" for i in range(COUNT)],
    "open": [100.0 + i for i in range(COUNT)],
    "high": [101.0 + i for i in range(COUNT)],
    "low": [99.0 + i for i in range(COUNT)],
    "close": [100.5 + i + (i % 3) for i in range(COUNT)],
    "volume": [10.0 + i for i in range(COUNT)],
}


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def series(source, backend, *, lookback, first_index=None, params=None, limits=LIMITS):
    return run_strategy_series(
        textwrap.dedent(source),
        CANDLES,
        params or {},
        lookback=lookback,
        first_index=first_index,
        limits=limits,
        backend=backend,
    )


def window(index: int, lookback: int) -> dict:
    start = max(0, index - lookback + 1)
    return {field: values[start : index + 1] for field, values in CANDLES.items()}


SMA_CROSS = """
import indicators

def generate_signal(candles, params):
    fast = indicators.sma(candles.close, params["fast"])
    slow = indicators.sma(candles.close, params["slow"])
    if fast[-1] is None or slow[-1] is None:
        return {"action": "HOLD"}
    last = candles.close[-1]
    if fast[-1] > slow[-1]:
        return {"action": "BUY", "stopLoss": last - 3, "takeProfit": last + 6, "n": len(candles)}
    return {"action": "SELL", "stopLoss": last + 3, "n": len(candles)}
"""


def test_series_agrees_with_one_call_per_candle(backend):
    lookback, params = 10, {"fast": 3, "slow": 7}
    result = series(SMA_CROSS, backend, lookback=lookback, params=params)
    assert result.ok, result.error
    assert len(result.signals) == COUNT - (lookback - 1)
    assert result.errors == [""] * len(result.signals)
    for k, index in enumerate(range(lookback - 1, COUNT)):
        one = run_strategy(
            textwrap.dedent(SMA_CROSS),
            window(index, lookback),
            params,
            limits=LIMITS,
            backend=backend,
        )
        assert one.ok, one.error
        assert result.signals[k] == one.signal, f"candle {index}"


PEEK = """
def generate_signal(candles, params):
    seen = {
        "len": len(candles),
        "last_time": candles.time[-1],
        "last_close": candles.close[-1],
        "max_close": max(candles.close),
        "attributes": sorted(a for a in dir(candles) if not a.startswith("__")),
        "has_dict": hasattr(candles, "__dict__"),
    }
    # Everything reachable from the object: the column lists and their referents.
    import gc
    reachable = set()
    for name in ("open", "high", "low", "close", "volume", "time"):
        column = getattr(candles, name)
        reachable.add(len(column))
        for referent in gc.get_referents(column):
            if isinstance(referent, list):
                reachable.add(len(referent))
    seen["lengths"] = sorted(reachable)
    try:
        candles.close[len(candles)]
        seen["beyond"] = "readable"
    except IndexError:
        seen["beyond"] = "IndexError"
    return {"action": "HOLD", "seen": seen}
"""


def test_a_peeking_strategy_only_ever_sees_the_past(backend):
    lookback = 5
    result = series(PEEK, backend, lookback=lookback, first_index=0)
    assert result.ok, result.error
    assert len(result.signals) == COUNT
    for index, signal in enumerate(result.signals):
        seen = signal["seen"]
        size = min(index + 1, lookback)
        assert seen["len"] == size
        # The last candle it gets is the one closing at this step, never a later one.
        assert seen["last_time"] == CANDLES["time"][index]
        assert seen["last_close"] == CANDLES["close"][index]
        assert seen["max_close"] == max(CANDLES["close"][index - size + 1 : index + 1])
        assert seen["beyond"] == "IndexError"
        assert seen["lengths"] == [size]  # no list of the whole history hangs off it
        assert seen["attributes"] == ["close", "high", "low", "open", "time", "volume"]
        assert seen["has_dict"] is False


def test_no_state_carries_from_one_candle_to_the_next(backend):
    source = """
    calls = []

    def generate_signal(candles, params):
        calls.append(1)
        params.setdefault("seen", 0)
        params["seen"] += 1
        return {"action": "HOLD", "calls": len(calls), "seen": params["seen"]}
    """
    result = series(source, backend, lookback=3)
    assert result.ok, result.error
    assert {(s["calls"], s["seen"]) for s in result.signals} == {(1, 1)}


def test_a_failing_step_fails_that_candle_only(backend):
    source = """
    def generate_signal(candles, params):
        if len(candles) == 2:
            raise ValueError("not enough")
        if len(candles) == 3:
            return ["not", "a", "dict"]
        return {"action": "HOLD"}
    """
    result = series(source, backend, lookback=4, first_index=0)
    assert result.ok, result.error
    assert result.signals == [{"action": "HOLD"}, None, None] + [{"action": "HOLD"}] * (COUNT - 3)
    assert "ValueError: not enough (line 4)" in result.errors[1]
    assert "must return a dict, got list" in result.errors[2]
    assert result.errors[3:] == [""] * (COUNT - 3)


def test_oversized_signal_fails_that_step(backend):
    source = """
    def generate_signal(candles, params):
        return {"action": "HOLD", "junk": "x" * 5000}
    """
    result = series(source, backend, lookback=2, first_index=38)
    assert result.ok, result.error
    assert result.signals == [None, None]
    assert "larger than 4096 bytes" in result.errors[0]


def test_a_loop_on_one_candle_times_the_series_out(backend):
    source = """
    def generate_signal(candles, params):
        while len(candles) == 3:
            pass
        return {"action": "HOLD"}
    """
    limits = SandboxLimits(wall_seconds=0.5, cpu_seconds=30, memory_mb=256)
    result = series(source, backend, lookback=3, first_index=0, limits=limits)
    assert not result.ok
    assert result.signals == [] and result.errors == []
    assert "timed out" in result.error


def test_syntax_error_fails_the_series(backend):
    result = series("def generate_signal(candles, params)\n    pass\n", backend, lookback=2)
    assert not result.ok
    assert "syntax error at line 1" in result.error


def test_prints_are_capped_for_the_whole_series(backend):
    source = """
    def generate_signal(candles, params):
        print("x" * 300)
        return {"action": "HOLD"}
    """
    limits = SandboxLimits(wall_seconds=2.0, cpu_seconds=5, memory_mb=256, max_output_bytes=3000)
    result = series(source, backend, lookback=1, first_index=0, limits=limits)
    assert not result.ok
    assert "output limit exceeded (3000 bytes printed)" in result.error


def test_series_limits_scale_with_the_steps():
    scaled = series_limits(SandboxLimits(wall_seconds=5, cpu_seconds=5), 10_000)
    assert scaled.wall_seconds == 505
    assert scaled.cpu_seconds == 505
    assert scaled.memory_mb == SandboxLimits().memory_mb


def test_lookback_must_be_positive():
    with pytest.raises(ValueError, match="lookback"):
        run_strategy_series("", CANDLES, {}, lookback=0)
