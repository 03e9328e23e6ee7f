"""Donchian breakout: buy when the close breaks above the highest high of the previous
`channelPeriod` bars, sell when it breaks below their lowest low. Only the bar of the
breakout signals (the close before it was still inside the channel). The stop goes to the
channel's middle, at least `minStopAtr` ATR away; the target is `targetAtr` ATR.

Tunables (executionConfig.params): channelPeriod (15), atrPeriod (14), minStopAtr (1.0),
targetAtr (2.5).
"""

from indicators import atr, highest, lowest


def generate_signal(candles, params):
    tunables = (params or {}).get("params") or {}
    channel_period = int(tunables.get("channelPeriod", 15))
    atr_period = int(tunables.get("atrPeriod", 14))
    min_stop_atr = float(tunables.get("minStopAtr", 1.0))
    target_atr = float(tunables.get("targetAtr", 2.5))

    if len(candles) < max(channel_period, atr_period) + 2:
        return {"action": "HOLD"}
    close = [float(value) for value in candles.close]
    high = [float(value) for value in candles.high]
    low = [float(value) for value in candles.low]
    # The channel of the bars *before* each bar: shift by one so a bar never breaks itself.
    upper = highest(high, channel_period)
    lower = lowest(low, channel_period)
    channel_high, channel_low = upper[-2], lower[-2]
    previous_high, previous_low = upper[-3], lower[-3]
    volatility = atr(high, low, close, atr_period)[-1]
    if None in (channel_high, channel_low, volatility) or not volatility:
        return {"action": "HOLD"}
    entry = close[-1]
    middle = (channel_high + channel_low) / 2
    inside_before = previous_high is None or (previous_low <= close[-2] <= previous_high)
    if close[-1] > channel_high and inside_before:
        stop = min(middle, entry - min_stop_atr * volatility)
        return {
            "action": "BUY",
            "entryPrice": entry,
            "stopLoss": stop,
            "takeProfit": entry + target_atr * volatility,
        }
    if close[-1] < channel_low and inside_before:
        stop = max(middle, entry + min_stop_atr * volatility)
        return {
            "action": "SELL",
            "entryPrice": entry,
            "stopLoss": stop,
            "takeProfit": entry - target_atr * volatility,
        }
    return {"action": "HOLD"}
