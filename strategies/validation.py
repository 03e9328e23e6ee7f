"""Checks on what an author uploads: the strategy source and its executionConfig.

Pure functions (no database, no request), shared by the API services and the admin. They
raise `StrategyValidationError`, which names the field at fault and, for source errors,
the line.
"""

import ast
import math
import re
from collections.abc import Mapping

from marketdata.candles import RESOLUTIONS

MAX_SOURCE_BYTES = 100 * 1024
ENTRY_POINT = "generate_signal"
# A market as the providers and the candle store spell it: letters and digits, `BTCUSDT`.
# `BTC/USDT` (ccxt's unified form) is accepted and stored without the slash; anything else
# (`btc-usdt`, `BTC USDT`) is refused rather than stored as a symbol no provider knows.
SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,15}(/[A-Z0-9]{2,15})?$")
# The same rule for the OpenAPI schema, either case (the value is upper-cased).
SYMBOL_PATTERN = "^[A-Za-z0-9]{2,15}(/[A-Za-z0-9]{2,15})?$"
SYMBOL_RULE = (
    "symbol must be the market's symbol in letters and digits, e.g. BTCUSDT or ETHUSDT "
    "(BTC/USDT is accepted and stored as BTCUSDT)"
)
MIN_LOOKBACK, MAX_LOOKBACK, DEFAULT_LOOKBACK = 1, 5000, 100
MAX_PARAMS_DEPTH = 5
MAX_PARAMS_ABS = 1e15
MAX_PARAMS_BYTES = 16 * 1024


class StrategyValidationError(ValueError):
    def __init__(self, message: str, *, field: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.line = line


def _source_error(message: str, line: int | None = None) -> StrategyValidationError:
    return StrategyValidationError(message, field="strategy_code", line=line)


def _accepts_two_positional(function: ast.FunctionDef) -> bool:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if arguments.vararg is not None:
        return True
    # Parameters beyond the first two must have defaults for the two-argument call to work.
    return len(positional) >= 2 and len(positional) - len(arguments.defaults) <= 2


def normalize_source(source):
    """Line endings as `\n`: a browser posts a textarea with `\r\n` (the HTML form
    encoding), and the stored source is what its author reads back."""
    if not isinstance(source, str):
        return source
    return source.replace("\r\n", "\n").replace("\r", "\n")


def validate_strategy_source(source: str) -> None:
    """The source must compile and define a top-level `generate_signal(candles, params)`."""
    if not isinstance(source, str) or not source.strip():
        raise _source_error("Strategy code is required")
    if len(source.encode("utf-8", errors="surrogatepass")) > MAX_SOURCE_BYTES:
        raise _source_error(f"Strategy code is larger than {MAX_SOURCE_BYTES // 1024} KB")
    try:
        tree = ast.parse(source, filename="<strategy>", mode="exec")
        compile(tree, "<strategy>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        if not exc.lineno:
            raise _source_error(f"Syntax error: {exc.msg}") from exc
        message = f"Syntax error on line {exc.lineno}: {exc.msg}"
        raise _source_error(message, line=exc.lineno) from exc
    except ValueError as exc:  # a NUL byte in the source (Python 3.11)
        raise _source_error(f"Strategy code cannot be compiled: {exc}") from exc
    except (RecursionError, MemoryError) as exc:
        raise _source_error("Strategy code is nested too deeply to compile") from exc

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == ENTRY_POINT:
            if not _accepts_two_positional(node):
                raise _source_error(
                    f"Line {node.lineno}: {ENTRY_POINT} must take two arguments (candles, params)",
                    line=node.lineno,
                )
            return
        if isinstance(node, ast.AsyncFunctionDef) and node.name == ENTRY_POINT:
            raise _source_error(
                f"Line {node.lineno}: {ENTRY_POINT} must be a plain function, not async",
                line=node.lineno,
            )
    raise _source_error(
        f"Strategy code must define a top-level function {ENTRY_POINT}(candles, params)"
    )


def _config_error(message: str) -> StrategyValidationError:
    return StrategyValidationError(message, field="execution_config")


def _as_int(value, name: str) -> int:
    if isinstance(value, bool):
        raise _config_error(f"{name} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 6:
        return int(value.strip())
    raise _config_error(f"{name} must be a whole number")


def _check_params(value, depth: int = 1) -> None:
    if depth > MAX_PARAMS_DEPTH:
        raise _config_error(f"params is nested deeper than {MAX_PARAMS_DEPTH} levels")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _config_error("params keys must be strings")
            _check_params(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_params(item, depth + 1)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise _config_error("params may not hold NaN or Infinity")
        if abs(value) > MAX_PARAMS_ABS:
            raise _config_error("params may not hold numbers beyond ±1e15")
    else:
        raise _config_error("params may only hold JSON values")


def normalize_symbol(symbol: str) -> str:
    """`btc/usdt` -> `BTCUSDT`, the form candles are stored under."""
    return symbol.strip().upper().replace("/", "")


def normalize_execution_config(config) -> dict:
    """`{symbol, resolution, lookbackPeriod, params}` checked and in its stored form.

    Accepts the camelCase keys (`lookbackPeriod`) and their snake_case form
    (`lookback_period`, as the camel-case parser hands them over); other keys are dropped.
    """
    if not isinstance(config, Mapping):
        raise _config_error("executionConfig must be an object")
    symbol = config.get("symbol")
    if symbol is None or symbol == "":
        raise _config_error(f"symbol is required: {SYMBOL_RULE}")
    if not isinstance(symbol, str) or not SYMBOL_RE.match(symbol.strip().upper()):
        raise _config_error(f"{SYMBOL_RULE}; got {str(symbol)[:40]!r}")
    if config.get("resolution") is None:
        raise _config_error("resolution is required")
    resolution = _as_int(config.get("resolution"), "resolution")
    if resolution not in RESOLUTIONS:
        allowed = ", ".join(str(minutes) for minutes in RESOLUTIONS)
        raise _config_error(f"resolution must be one of {allowed} (minutes)")
    lookback = config.get("lookbackPeriod", config.get("lookback_period"))
    lookback = DEFAULT_LOOKBACK if lookback is None else _as_int(lookback, "lookbackPeriod")
    if not MIN_LOOKBACK <= lookback <= MAX_LOOKBACK:
        raise _config_error(f"lookbackPeriod must be between {MIN_LOOKBACK} and {MAX_LOOKBACK}")
    params = config.get("params")
    params = {} if params is None else params
    if not isinstance(params, Mapping):
        raise _config_error("params must be an object")
    _check_params(params)
    if len(repr(params)) > MAX_PARAMS_BYTES:
        raise _config_error(f"params is larger than {MAX_PARAMS_BYTES // 1024} KB")
    return {
        "symbol": normalize_symbol(symbol),
        "resolution": resolution,
        "lookbackPeriod": lookback,
        "params": dict(params),
    }
