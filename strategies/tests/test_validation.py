import pytest

from strategies.validation import (
    MAX_SOURCE_BYTES,
    StrategyValidationError,
    normalize_execution_config,
    validate_strategy_source,
)

GOOD = "def generate_signal(candles, params):\n    return {'action': 'HOLD'}\n"


def test_good_source_passes():
    validate_strategy_source(GOOD)
    validate_strategy_source("def generate_signal(c, p, extra=1):\n    return None\n")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("def generate_signal(candles, params)\n    return 1\n", "line 1"),
        ("x = 1\n\ndef generate_signal(candles, params):\n  return (\n", "line 4"),
        ("def other(candles, params):\n    return 1\n", "must define"),
        ("def generate_signal(candles):\n    return 1\n", "two arguments"),
        ("async def generate_signal(candles, params):\n    return 1\n", "not async"),
        (
            "class A:\n    def generate_signal(self, candles, params):\n        pass\n",
            "must define",
        ),
        ("x = 1\x00\n", "null bytes"),
        ("", "required"),
    ],
)
def test_bad_source_is_refused_with_a_clear_message(source, fragment):
    with pytest.raises(StrategyValidationError) as caught:
        validate_strategy_source(source)
    assert fragment in caught.value.message
    assert caught.value.field == "strategy_code"


def test_syntax_error_names_the_line():
    with pytest.raises(StrategyValidationError) as caught:
        validate_strategy_source("a = 1\nb = (\n")
    assert caught.value.line == 2


def test_source_over_100_kb_is_refused():
    big = GOOD + "#" * MAX_SOURCE_BYTES
    with pytest.raises(StrategyValidationError, match="larger than 100 KB"):
        validate_strategy_source(big)


def test_deeply_nested_source_does_not_crash():
    with pytest.raises(StrategyValidationError):
        validate_strategy_source("x = " + "(" * 100_000 + ")" * 100_000 + "\n" + GOOD)


def test_config_is_normalized():
    assert normalize_execution_config({"symbol": " btc/usdt ", "resolution": "15"}) == {
        "symbol": "BTCUSDT",
        "resolution": 15,
        "lookbackPeriod": 100,
        "params": {},
    }
    config = normalize_execution_config(
        {"symbol": "ETHUSDT", "resolution": 60, "lookback_period": 5000, "params": {"a": [1]}}
    )
    assert config["lookbackPeriod"] == 5000
    assert config["params"] == {"a": [1]}


def test_a_dashed_symbol_is_refused_with_the_rule_not_stored_as_another_symbol():
    with pytest.raises(StrategyValidationError) as caught:
        normalize_execution_config({"symbol": "btc-usdt", "resolution": 5})
    assert "e.g. BTCUSDT" in caught.value.message
    assert "'btc-usdt'" in caught.value.message
    assert normalize_execution_config({"symbol": "ethusdt", "resolution": 5})["symbol"] == (
        "ETHUSDT"
    )


@pytest.mark.parametrize(
    "config",
    [
        None,
        [],
        {"resolution": 5},
        {"symbol": "BTC USDT", "resolution": 5},
        {"symbol": "btc-usdt", "resolution": 5},
        {"symbol": "BTC/USDT:USDT", "resolution": 5},
        {"symbol": "", "resolution": 5},
        {"symbol": "B" * 31, "resolution": 5},
        {"symbol": 7, "resolution": 5},
        {"symbol": "BTCUSDT"},
        {"symbol": "BTCUSDT", "resolution": 7},
        {"symbol": "BTCUSDT", "resolution": "5m"},
        {"symbol": "BTCUSDT", "resolution": True},
        {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 0},
        {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 5001},
        {"symbol": "BTCUSDT", "resolution": 5, "lookbackPeriod": 2.5},
        {"symbol": "BTCUSDT", "resolution": 5, "params": [1, 2]},
        {"symbol": "BTCUSDT", "resolution": 5, "params": {"x": float("nan")}},
        {"symbol": "BTCUSDT", "resolution": 5, "params": {"x": float("inf")}},
        {"symbol": "BTCUSDT", "resolution": 5, "params": {"x": 10**16}},
        {"symbol": "BTCUSDT", "resolution": 5, "params": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
    ],
)
def test_bad_config_is_refused(config):
    with pytest.raises(StrategyValidationError) as caught:
        normalize_execution_config(config)
    assert caught.value.field == "execution_config"
