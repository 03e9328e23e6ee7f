import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from executions.demo import ADMIN_EMAIL, DEMO_EMAIL, demo_seed

# Development logins, printed on purpose: the command refuses to run outside DEBUG.
DEFAULT_ADMIN_PASSWORD = "admin-demo-2026"
DEFAULT_DEMO_PASSWORD = "demo-trader-2026"


class Command(BaseCommand):
    help = (
        "Create the demo data once, on an empty database: an admin and a demo user, the "
        "example strategies on BTCUSDT and ETHUSDT at 1 minute, a paper broker credential "
        "and subscriptions; later runs leave all of it as the users left it. Every run "
        "tops the demo candles up to now. Development only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (the demo passwords are well known).",
        )

    def handle(self, *args, force: bool = False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates users with well-known passwords: it runs only with "
                "DEBUG on (or --force)."
            )
        admin_password = os.environ.get("DEMO_ADMIN_PASSWORD") or DEFAULT_ADMIN_PASSWORD
        demo_password = os.environ.get("DEMO_USER_PASSWORD") or DEFAULT_DEMO_PASSWORD
        report = demo_seed(admin_password=admin_password, demo_password=demo_password)
        for what in report.created:
            self.stdout.write(f"created  {what}")
        if not report.seeded:
            self.stdout.write("the database has users already: demo data left as it is")
        self.stdout.write(f"candles  {report.candles_added} added")
        self.stdout.write(
            self.style.SUCCESS(
                "demo logins (development only):\n"
                f"  {ADMIN_EMAIL} / {admin_password}   admin (/admin/) and strategy author\n"
                f"  {DEMO_EMAIL} / {demo_password}   subscriber (API, /api/docs/)"
            )
        )
