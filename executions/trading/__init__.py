"""The pure trading core: plain values in, decisions out; no ORM, no Redis, no clock.

- `enums`: the trading vocabulary (sides, signal actions, exit reasons), defined once;
  the models' choices are these.
- `signal_parser`: checks the raw dict a strategy returns and makes it a `Signal`.
- `rules`: sizing, stops, exits, PnL and eligibility.

The live engine (`executions.engine`) and the backtests (`backtests.replay`) call the same
functions, so a replay of history gives the live trades. The risk settings these rules take
(and their defaults) are the subscription's: `subscriptions.risk`.
"""
