from django.core.management.base import BaseCommand

from strategies.services import strategy_registry_rebuild


class Command(BaseCommand):
    help = "Repopulate the Redis candle registry from the database (after a FLUSHDB or restart)."

    def handle(self, *args, **options):
        expected = strategy_registry_rebuild()
        strategies = sum(len(ids) for ids in expected.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Registry rebuilt: {strategies} strategies on {len(expected)} candles"
            )
        )
        for key in sorted(expected):
            self.stdout.write(f"  {key}: {len(expected[key])}")
