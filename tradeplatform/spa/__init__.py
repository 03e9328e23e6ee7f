"""The original system's single-page app (punksapien/xcoinalgo `frontend/`) served as it is.

Its pages call paths of their own (`/api/user/*`, `/api/marketplace`, `/api/broker/*`,
`/api/strategies/subscriptions/bulk-stats` and `…/:id/equity-curve`, `/api/positions/*`)
and read shapes of their own (win rates in percent, positions LONG/SHORT, …). This
package answers them beside the platform's own contract, with the apps' services and
selectors: the views here shape answers, they hold no rule of their own. The README's
"The original SPA" section lists every path and how its shape differs from ours.

It sits in the project package because it reads every app (accounts up to backtests).
"""
