"""RSI mean reversion: buy when RSI climbs back above the oversold level, sell when it
falls back below the overbought level, and close the position (EXIT) when RSI comes back
through the middle line against it. Stops and targets are ATR multiples.

Tunables (executionConfig.params): rsiPeriod (7), oversold (30), overbought (70),
atrPeriod (14), stopAtr (1.0), targetAtr (2.0).
"""

from indicators import atr, crossover, crossunder, rsi


def generate_signal(candles, params):
    tunables = (params or {}).get("params") or {}
    rsi_period = int(tunables.get("rsiPeriod", 7))
    oversold = float(tunables.get("oversold", 30))
    overbought = float(tunables.get("overbought", 70))
    atr_period = int(tunables.get("atrPeriod", 14))
    stop_atr = float(tunables.get("stopAtr", 1.0))
    target_atr = float(tunables.get("targetAtr", 2.0))

    if len(candles) < max(rsi_period, atr_period) + 2:
        return {"action": "HOLD"}
    close = [float(value) for value in candles.close]
    high = [float(value) for value in candles.high]
    low = [float(value) for value in candles.low]
    strength = rsi(close, rsi_period)
    volatility = atr(high, low, close, atr_period)[-1]
    if not volatility:
        return {"action": "HOLD"}
    entry = close[-1]
    if crossover(strength, oversold):
        return {
            "action": "BUY",
            "entryPrice": entry,
            "stopLoss": entry - stop_atr * volatility,
            "takeProfit": entry + target_atr * volatility,
        }
    if crossunder(strength, overbought):
        return {
            "action": "SELL",
            "entryPrice": entry,
            "stopLoss": entry + stop_atr * volatility,
            "takeProfit": entry - target_atr * volatility,
        }
    return {"action": "HOLD"}
