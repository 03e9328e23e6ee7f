"""SMA crossover: go long when the fast average crosses above the slow one, short when it
crosses below. Stop-loss and take-profit sit a multiple of ATR away from the entry.

Tunables (executionConfig.params): fastPeriod (5), slowPeriod (20), atrPeriod (14),
stopAtr (1.5), targetAtr (3.0).
"""

from indicators import atr, crossover, crossunder, sma


def generate_signal(candles, params):
    tunables = (params or {}).get("params") or {}
    fast_period = int(tunables.get("fastPeriod", 5))
    slow_period = int(tunables.get("slowPeriod", 20))
    atr_period = int(tunables.get("atrPeriod", 14))
    stop_atr = float(tunables.get("stopAtr", 1.5))
    target_atr = float(tunables.get("targetAtr", 3.0))

    if len(candles) < max(slow_period, atr_period) + 1:
        return {"action": "HOLD"}
    close = [float(value) for value in candles.close]
    high = [float(value) for value in candles.high]
    low = [float(value) for value in candles.low]
    fast = sma(close, fast_period)
    slow = sma(close, slow_period)
    volatility = atr(high, low, close, atr_period)[-1]
    if not volatility:
        return {"action": "HOLD"}
    entry = close[-1]
    if crossover(fast, slow):
        return {
            "action": "BUY",
            "entryPrice": entry,
            "stopLoss": entry - stop_atr * volatility,
            "takeProfit": entry + target_atr * volatility,
        }
    if crossunder(fast, slow):
        return {
            "action": "SELL",
            "entryPrice": entry,
            "stopLoss": entry + stop_atr * volatility,
            "takeProfit": entry - target_atr * volatility,
        }
    return {"action": "HOLD"}
