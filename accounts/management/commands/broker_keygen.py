import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts import crypto


class Command(BaseCommand):
    help = (
        "Create a key pair for sealing broker credentials: the private key goes to a new "
        "file (mode 0600) for the orders worker's BROKER_PRIVATE_KEYS_FILE, the public key "
        "(BROKER_PUBLIC_KEY of every process) is printed."
    )

    def add_arguments(self, parser):
        parser.add_argument("private_key_file", type=Path)

    def handle(self, *args, private_key_file: Path, **options):
        private, public = crypto.keypair_generate()
        try:
            descriptor = os.open(private_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise CommandError(f"{private_key_file} exists; not overwritten") from exc
        with os.fdopen(descriptor, "w") as handle:
            handle.write(private + "\n")
        self.stdout.write(f"BROKER_PUBLIC_KEY={public}")
        self.stdout.write(f"key id {crypto.key_id(crypto.public_raw(public))}")
