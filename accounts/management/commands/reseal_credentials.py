from django.core.management.base import BaseCommand

from accounts.services import broker_credentials_reseal


class Command(BaseCommand):
    help = (
        "Seal every broker credential sealed to an older key again, to BROKER_PUBLIC_KEY "
        "(key rotation). Run it with the orders worker's environment: it needs the old "
        "private keys in BROKER_PRIVATE_KEYS."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{broker_credentials_reseal()} credential(s) resealed")
