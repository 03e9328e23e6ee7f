"""Celery tasks of the strategies app: interfaces over its services."""

import logging

from celery import shared_task

from strategies.registry import registry_rebuild

logger = logging.getLogger(__name__)


@shared_task(name="strategies.registry_reconcile")
def registry_reconcile() -> int:
    """Replace the Redis candle registry with what PostgreSQL says; answers the number of
    strategies registered."""
    expected = registry_rebuild()
    registered = sum(len(strategy_ids) for strategy_ids in expected.values())
    logger.info(
        "candle registry reconciled: %d strategies on %d candles", registered, len(expected)
    )
    return registered
