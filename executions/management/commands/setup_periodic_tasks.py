from django.core.management.base import BaseCommand

from executions.schedule import periodic_tasks_setup


class Command(BaseCommand):
    help = "Create or update the Celery Beat schedule (one tick per resolution, the reaper)."

    def handle(self, *args, **options):
        for name in periodic_tasks_setup():
            self.stdout.write(f"scheduled: {name}")
