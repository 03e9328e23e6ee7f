"""Writes to strategies, shared by the API and the admin.

Redis follows the database: the candle registry and the settings cache are touched only
after the transaction commits (`transaction.on_commit`), so Redis never holds a strategy
the database rolled back, and the engine never re-caches settings that are about to change.
"""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.services import user_quota_check
from tradeplatform.api import ApplicationError

from . import registry
from .locks import strategy_lock
from .models import Strategy
from .risk import RISK_DEFAULT_FIELDS
from .selectors import strategy_open_trade_count, strategy_runnable
from .settings_cache import strategy_settings_invalidate
from .validation import (
    StrategyValidationError,
    normalize_execution_config,
    normalize_source,
    validate_strategy_source,
)

DUPLICATE_CODE = "Strategy code already exists"
WRITABLE_FIELDS = frozenset(
    {
        "name",
        "code",
        "description",
        "strategy_code",
        "execution_config",
        "tags",
        "is_public",
        "risk_defaults",
    }
)


def _invalid(exc: StrategyValidationError) -> ApplicationError:
    return ApplicationError(exc.message, details={exc.field: [exc.message]})


def normalize_tags(tags) -> str:
    """`"a, b,,a"` or `["a", "b"]` becomes `"a,b"`: trimmed, no blanks, no repeats."""
    if tags is None:
        return ""
    items = tags.split(",") if isinstance(tags, str) else [str(tag) for tag in tags]
    unique: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item:
            unique.setdefault(item, None)
    joined = ",".join(unique)
    if len(joined) > Strategy._meta.get_field("tags").max_length:
        raise ApplicationError("Too many tags", details={"tags": ["Too many tags"]})
    return joined


def _risk_columns(risk_defaults: dict | None) -> dict:
    unknown = set(risk_defaults or {}) - set(RISK_DEFAULT_FIELDS)
    if unknown:
        raise ApplicationError(f"Not writable: {', '.join(sorted(unknown))}")
    return dict(risk_defaults or {})


def _bump_patch(version: str) -> str:
    parts = (version or "1.0.0").split(".")
    try:
        major, minor, patch = (int(part) for part in [*parts, "0", "0", "0"][:3])
    except ValueError:
        return "1.0.1"
    return f"{major}.{minor}.{patch + 1}"


def _candle(config: dict) -> tuple[str, int]:
    return str(config.get("symbol", "")).upper(), int(config.get("resolution", 0))


def _registry_sync(strategy_id, *, previous_candle: tuple[str, int] | None = None) -> None:
    """Make the registry agree with the committed database row of one strategy: registered
    at its candle while it is runnable (`strategy_runnable`), nowhere otherwise."""
    row = (
        Strategy.objects.filter(id=strategy_id).values_list("execution_config", "is_active").first()
    )
    if row is None:
        return
    config, _ = row
    symbol, resolution = _candle(config)
    live = strategy_runnable().filter(id=strategy_id).exists()
    if live and previous_candle and previous_candle != (symbol, resolution):
        registry.registry_move(
            strategy_id=strategy_id,
            old_symbol=previous_candle[0],
            old_resolution=previous_candle[1],
            symbol=symbol,
            resolution=resolution,
        )
        return
    if previous_candle and previous_candle != (symbol, resolution):
        registry.registry_unregister(
            strategy_id=strategy_id, symbol=previous_candle[0], resolution=previous_candle[1]
        )
    if live:
        registry.registry_register(strategy_id=strategy_id, symbol=symbol, resolution=resolution)
    else:
        registry.registry_unregister(strategy_id=strategy_id, symbol=symbol, resolution=resolution)


def _refuse_with_open_trades(strategy: Strategy, message: str, *, field: str = "") -> None:
    """ApplicationError (400) with `message` ({count}, {candle}) if the strategy has open
    trades."""
    count = strategy_open_trade_count(strategy_id=strategy.id)
    if count:
        symbol, resolution = _candle(strategy.execution_config)
        text = message.format(count=count, candle=f"{symbol}:{resolution}")
        raise ApplicationError(text, details={field: [text]} if field else None)


def _after_commit(strategy_id, *, previous_candle=None, invalidate: bool = True) -> None:
    def run():
        if invalidate:
            strategy_settings_invalidate(strategy_id=strategy_id)
        _registry_sync(strategy_id, previous_candle=previous_candle)

    # robust: the database has committed; a Redis failure is logged, not raised to the
    # caller, and `manage.py rebuild_registry` reconciles the registry from the database.
    transaction.on_commit(run, robust=True)


def strategy_create(
    *,
    user: AbstractBaseUser,
    name: str,
    code: str,
    strategy_code: str,
    execution_config: dict,
    description: str = "",
    tags=None,
    is_public: bool = False,
    risk_defaults: dict | None = None,
) -> Strategy:
    """`risk_defaults`: the author's recommended risk settings, keyed by their Strategy
    columns (`strategies.risk.RiskDefaultsSerializer` checks them)."""
    strategy_code = normalize_source(strategy_code)
    try:
        validate_strategy_source(strategy_code)
        config = normalize_execution_config(execution_config)
    except StrategyValidationError as exc:
        raise _invalid(exc) from exc
    if Strategy.objects.filter(code=code).exists():
        raise ApplicationError(DUPLICATE_CODE, status_code=409)
    try:
        with transaction.atomic():
            # Deleted (inactive) strategies do not count: the upload throttle bounds churn.
            user_quota_check(
                user=user,
                used=Strategy.objects.filter(user=user, is_active=True),
                limit=settings.MAX_STRATEGIES_PER_USER,
                label="Strategy",
            )
            return Strategy.objects.create(
                user=user,
                name=name,
                code=code,
                description=description or "",
                author=user.email,
                version="1.0.0",
                strategy_code=strategy_code,
                execution_config=config,
                tags=normalize_tags(tags),
                is_public=is_public,
                **_risk_columns(risk_defaults),
            )
    except IntegrityError as exc:  # a concurrent upload of the same code
        raise ApplicationError(DUPLICATE_CODE, status_code=409) from exc


@transaction.atomic
def strategy_update(*, strategy: Strategy, data: dict) -> Strategy:
    """Apply the author's changes (a partial body). A new source bumps the patch version;
    the settings cache entry goes; a new candle moves the strategy in the registry.

    A new symbol or resolution is refused while the strategy has open trades: they are
    checked against their stops and targets on the candle they opened on, and count
    toward their subscriptions' maxPositions. The strategy's lock (the engine's) orders
    the check against a candle close writing trades."""
    unknown = set(data) - WRITABLE_FIELDS
    if unknown:
        raise ApplicationError(f"Not writable: {', '.join(sorted(unknown))}")
    strategy_lock(strategy_id=strategy.id)
    locked = Strategy.objects.select_for_update().get(id=strategy.id)
    previous_candle = _candle(locked.execution_config)
    try:
        if "strategy_code" in data:
            data = {**data, "strategy_code": normalize_source(data["strategy_code"])}
            validate_strategy_source(data["strategy_code"])
            if data["strategy_code"] != locked.strategy_code:
                locked.version = _bump_patch(locked.version)
        if "execution_config" in data:
            incoming = data["execution_config"]
            if not isinstance(incoming, dict):
                raise StrategyValidationError(
                    "executionConfig must be an object", field="execution_config"
                )
            incoming = dict(incoming)
            if "lookback_period" in incoming:
                incoming["lookbackPeriod"] = incoming.pop("lookback_period")
            # The keys given replace the stored ones; `params` is replaced as a whole.
            merged = {**locked.execution_config, **incoming}
            data = {**data, "execution_config": normalize_execution_config(merged)}
    except StrategyValidationError as exc:
        raise _invalid(exc) from exc
    if "execution_config" in data and _candle(data["execution_config"]) != previous_candle:
        _refuse_with_open_trades(
            locked,
            "Cannot change executionConfig.symbol or resolution while {count} trade(s) are "
            "open on {candle}: they are watched on that candle. Change it once they have "
            "closed (an EXIT signal closes them at the next close).",
            field="execution_config",
        )
    if "tags" in data:
        data = {**data, "tags": normalize_tags(data["tags"])}
    if "risk_defaults" in data:
        data = {**data, **_risk_columns(data["risk_defaults"])}
        del data["risk_defaults"]
    if (
        "code" in data
        and data["code"] != locked.code
        and Strategy.objects.filter(code=data["code"]).exists()
    ):
        raise ApplicationError(DUPLICATE_CODE, status_code=409)
    for field, value in data.items():
        setattr(locked, field, value)
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError as exc:
        raise ApplicationError(DUPLICATE_CODE, status_code=409) from exc
    _after_commit(locked.id, previous_candle=previous_candle)
    return locked


@transaction.atomic
def strategy_deactivate(
    *, strategy: Strategy, force: bool = False, verb: str = "delete"
) -> Strategy:
    """Soft delete. Refused while a subscription is active, unless an operator forces it
    (the subscriptions then stay, but the engine no longer runs the strategy). Refused,
    forced or not, while the strategy has open trades: nothing would ever check or close
    them again (cancelling a subscription closes its trades at the next close). `verb` is
    what the caller calls it in a refusal: an author deletes, an operator deactivates."""
    strategy_lock(strategy_id=strategy.id)
    locked = Strategy.objects.select_for_update().get(id=strategy.id)
    if not force and locked.subscriptions.filter(is_active=True).exists():
        raise ApplicationError(f"Cannot {verb} a strategy with active subscriptions")
    _refuse_with_open_trades(
        locked,
        f"Cannot {verb} a strategy with {{count}} open trade(s) on {{candle}}: they close by "
        "their stop, target or an EXIT signal, or at the next close once their "
        "subscriptions are cancelled.",
    )
    if locked.is_active:
        locked.is_active = False
        locked.save(update_fields=["is_active", "updated_at"])
    _after_commit(locked.id)
    return locked


@transaction.atomic
def strategy_activate(*, strategy: Strategy) -> Strategy:
    locked = Strategy.objects.select_for_update().get(id=strategy.id)
    if not locked.is_active:
        locked.is_active = True
        locked.save(update_fields=["is_active", "updated_at"])
    _after_commit(locked.id)
    return locked


def strategy_subscriber_added(*, strategy_id) -> None:
    """A subscription became active: count it and make sure its candle runs the strategy.
    Called inside the subscriber's transaction."""
    Strategy.objects.filter(id=strategy_id).update(subscriber_count=F("subscriber_count") + 1)
    _after_commit(strategy_id, invalidate=False)


def strategy_subscriber_removed(*, strategy_id) -> None:
    """A subscription was cancelled (exactly once): uncount it, and unregister the strategy
    from its candle when it was the last active one."""
    Strategy.objects.filter(id=strategy_id, subscriber_count__gt=0).update(
        subscriber_count=F("subscriber_count") - 1
    )
    _after_commit(strategy_id, invalidate=False)


def strategy_registry_rebuild() -> dict[str, set[str]]:
    return registry.registry_rebuild()
