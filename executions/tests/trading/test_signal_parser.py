from decimal import Decimal

import pytest

from executions.trading.signal_parser import MAX_SIGNAL_BYTES, Signal, SignalError, parse_signal

LAST_CLOSE = Decimal("42000.5")


def test_buy_with_stop_and_take_profit_defaults_entry_to_last_close():
    signal = parse_signal(
        {"action": "BUY", "stopLoss": 41800.1, "takeProfit": 43000},
        last_close=LAST_CLOSE,
    )
    assert signal == Signal("BUY", LAST_CLOSE, Decimal("41800.1"), Decimal(43000))
    assert isinstance(signal.stop_loss, Decimal)


def test_action_is_case_insensitive_and_prices_optional():
    assert parse_signal({"action": " buy "}, last_close=LAST_CLOSE) == Signal(
        "BUY", LAST_CLOSE, None, None
    )
    assert parse_signal({"action": "hold"}, last_close=LAST_CLOSE).action == "HOLD"
    assert parse_signal({"action": "Exit"}, last_close=LAST_CLOSE).action == "EXIT"


def test_float_goes_through_str_not_binary_value():
    signal = parse_signal({"action": "SELL", "stopLoss": 42000.6}, last_close=LAST_CLOSE)
    assert signal.stop_loss == Decimal("42000.6")


def test_sell_mirror_order():
    signal = parse_signal(
        {"action": "SELL", "stopLoss": 110, "takeProfit": 90}, last_close=Decimal(100)
    )
    assert (signal.stop_loss, signal.take_profit) == (Decimal(110), Decimal(90))


@pytest.mark.parametrize("raw", [None, [], "BUY", 3])
def test_not_a_dict(raw):
    with pytest.raises(SignalError, match="must return a dict"):
        parse_signal(raw, last_close=LAST_CLOSE)


@pytest.mark.parametrize("action", [None, "LONG", 1, ""])
def test_unknown_action(action):
    with pytest.raises(SignalError, match="action must be one of BUY, SELL, HOLD, EXIT"):
        parse_signal({"action": action}, last_close=LAST_CLOSE)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("41800", "must be a number"),
        (True, "must be a number"),
        ([1], "must be a number"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (float("-inf"), "finite"),
        (0, "greater than 0"),
        (-5.5, "greater than 0"),
        (1e16, "absurdly large"),
        (10**400, "absurdly large"),
    ],
)
@pytest.mark.parametrize("key", ["entryPrice", "stopLoss", "takeProfit"])
def test_bad_prices(key, value, message):
    with pytest.raises(SignalError, match=f"{key} .*{message}|{key} {message}"):
        parse_signal({"action": "HOLD", key: value}, last_close=LAST_CLOSE)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "BUY", "stopLoss": 42000.5}, "BUY's stopLoss must be below"),
        ({"action": "BUY", "stopLoss": 43000}, "BUY's stopLoss must be below"),
        ({"action": "BUY", "takeProfit": 41000}, "BUY's takeProfit must be above"),
        ({"action": "SELL", "stopLoss": 41000}, "SELL's stopLoss must be above"),
        ({"action": "SELL", "takeProfit": 43000}, "SELL's takeProfit must be below"),
    ],
)
def test_stop_and_take_profit_on_the_wrong_side(raw, message):
    with pytest.raises(SignalError, match=message):
        parse_signal(raw, last_close=LAST_CLOSE)


def test_error_names_the_values():
    with pytest.raises(SignalError) as excinfo:
        parse_signal({"action": "BUY", "stopLoss": 120}, last_close=Decimal(100))
    assert str(excinfo.value) == (
        "a BUY's stopLoss must be below the price 100 (the signal candle's close) and "
        "within 50% of it, from 50 up to (not including) 100; got stopLoss=120"
    )


# --------------------------------------------------------------- no strategy number for money


def test_the_entry_price_is_the_platforms_close_never_the_strategys():
    signal = parse_signal(
        {"action": "BUY", "entryPrice": 1.0, "stopLoss": 41000}, last_close=Decimal(42000)
    )
    assert signal.entry_price == Decimal(42000)


def test_a_stop_far_from_the_platforms_price_is_refused():
    """The attack of issue 12: entryPrice 1 and stopLoss 0.5 on a 42,000 market would size
    a 1,000 x 10 subscription at 20 BTC. The stop is judged against 42,000 and refused."""
    with pytest.raises(SignalError) as excinfo:
        parse_signal(
            {"action": "BUY", "entryPrice": 1.0, "stopLoss": 0.5}, last_close=Decimal(42000)
        )
    assert str(excinfo.value) == (
        "a BUY's stopLoss must be below the price 42000 (the signal candle's close) and "
        "within 50% of it, from 21000 up to (not including) 42000; got stopLoss=0.5"
    )
    assert excinfo.value.storable


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ({"action": "BUY", "stopLoss": 50}, True),
        ({"action": "BUY", "stopLoss": 49.99999999}, False),
        ({"action": "BUY", "takeProfit": 150}, True),
        ({"action": "BUY", "takeProfit": 150.00000001}, False),
        ({"action": "SELL", "stopLoss": 150}, True),
        ({"action": "SELL", "stopLoss": 150.00000001}, False),
        ({"action": "SELL", "takeProfit": 50}, True),
        ({"action": "SELL", "takeProfit": 49.99999999}, False),
    ],
)
def test_stops_and_targets_lie_within_the_band(raw, ok):
    if ok:
        parse_signal(raw, last_close=Decimal(100))
    else:
        with pytest.raises(SignalError, match="within 50% of it"):
            parse_signal(raw, last_close=Decimal(100))


def test_the_band_is_a_parameter():
    raw = {"action": "BUY", "stopLoss": 89}
    assert parse_signal(raw, last_close=Decimal(100)).stop_loss == Decimal(89)
    with pytest.raises(SignalError, match=r"within 10% of it, from 90 up to"):
        parse_signal(raw, last_close=Decimal(100), band=Decimal("0.1"))


# -------------------------------------------------------------- rounded once, to the stored step


def test_prices_are_rounded_half_even_to_the_stored_step_when_parsed():
    signal = parse_signal(
        {"action": "BUY", "stopLoss": 20217.170000000002, "takeProfit": 20300.123456785},
        last_close=Decimal("20250"),
    )
    assert signal.stop_loss == Decimal("20217.17000000")
    assert signal.take_profit == Decimal("20300.12345678")  # ...785: half-even to ...78


def test_a_stop_that_rounds_onto_the_price_is_refused():
    with pytest.raises(SignalError, match="stopLoss must be below the price 100"):
        parse_signal({"action": "BUY", "stopLoss": 99.999999999}, last_close=Decimal(100))


def test_a_price_below_the_stored_step_is_refused():
    with pytest.raises(SignalError, match=r"stopLoss \(1e-09\) is below the smallest price step"):
        parse_signal({"action": "HOLD", "stopLoss": 1e-9}, last_close=LAST_CLOSE)


# ---------------------------------------------------------------- what cannot be stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"action": "HOLD", "x": float("nan")}, "x must be a finite number, got nan"),
        (
            {"action": "HOLD", "meta": {"levels": [1.0, float("-inf")]}},
            "meta.levels[1] must be a finite number, got -inf",
        ),
        ({"action": "HOLD", "note": "a\x00b"}, "note contains a NUL character"),
        ({"action": "HOLD", "a\x00": 1}, "a key of the signal contains a NUL character"),
    ],
)
def test_values_postgresql_cannot_store_fail_the_signal(raw, message):
    with pytest.raises(SignalError) as excinfo:
        parse_signal(raw, last_close=LAST_CLOSE)
    assert str(excinfo.value).startswith(message)
    assert not excinfo.value.storable


def test_the_live_size_cap_is_the_backtests():
    assert MAX_SIGNAL_BYTES == 4096
    padding = "x" * (MAX_SIGNAL_BYTES - len('{"action": "HOLD", "note": ""}'))
    assert parse_signal({"action": "HOLD", "note": padding}, last_close=LAST_CLOSE)
    with pytest.raises(SignalError) as excinfo:
        parse_signal({"action": "HOLD", "note": padding + "x"}, last_close=LAST_CLOSE)
    assert str(excinfo.value) == "the signal is larger than 4096 bytes (4097 bytes as JSON)"
    assert not excinfo.value.storable
