"""Strategy settings as the engine reads them, cached in Redis under
`strategy:{id}:settings` and deleted whenever the strategy changes (delete-on-update)."""

from django.core.cache import cache

from .models import Strategy

SETTINGS_TTL_SECONDS = 3600


def _key(strategy_id) -> str:
    return f"strategy:{strategy_id}:settings"


def strategy_settings_from_row(strategy: Strategy) -> dict:
    config = strategy.execution_config or {}
    return {
        "id": str(strategy.id),
        "code": strategy.code,
        "version": strategy.version,
        "isActive": strategy.is_active,
        "symbol": strategy.symbol,
        "resolution": strategy.resolution,
        "lookbackPeriod": strategy.lookback_period,
        "params": config.get("params") or {},
        "strategyCode": strategy.strategy_code,
    }


def strategy_settings_get(*, strategy_id) -> dict | None:
    """The settings of an existing strategy, or None when there is no such strategy."""
    key = _key(strategy_id)
    settings = cache.get(key)
    if settings is None:
        strategy = Strategy.objects.filter(id=strategy_id).first()
        if strategy is None:
            return None
        settings = strategy_settings_from_row(strategy)
        cache.set(key, settings, SETTINGS_TTL_SECONDS)
    return settings


def strategy_settings_invalidate(*, strategy_id) -> None:
    cache.delete(_key(strategy_id))
