from decimal import Decimal

import pytest

from executions.trading.signal_parser import Signal, SignalError, parse_signal

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
    signal = parse_signal({"action": "SELL", "entryPrice": 0.1}, last_close=LAST_CLOSE)
    assert signal.entry_price == Decimal("0.1")


def test_sell_mirror_order():
    signal = parse_signal(
        {"action": "SELL", "entryPrice": 100, "stopLoss": 110, "takeProfit": 90},
        last_close=LAST_CLOSE,
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
        parse_signal({"action": "BUY", "entryPrice": 100, "stopLoss": 120}, last_close=LAST_CLOSE)
    assert (
        str(excinfo.value) == "a BUY's stopLoss must be below its entry price 100, got stopLoss=120"
    )
