"""Broker credentials move from Fernet (symmetric: whoever encrypts can decrypt) to the
sealed box of accounts.crypto (the web seals, only the orders worker opens).

Sealing needs only the public key, so `migrate` (run by the web service) converts every
existing row: it decrypts with the old `FIELD_ENCRYPTION_KEYS` one last time and seals to
`BROKER_PUBLIC_KEY`. With rows to convert and no Fernet key it stops with an error and
changes nothing (one transaction). Once migrated, FIELD_ENCRYPTION_KEYS can be removed.
"""

from django.db import migrations, models

from accounts import crypto
from accounts.models import sealed_context


def seal_legacy_rows(apps, schema_editor):
    credentials = apps.get_model("accounts", "BrokerCredential")
    for credential in credentials.objects.all().iterator():
        for field in ("api_key", "api_secret"):
            plaintext = crypto.legacy_fernet_decrypt(getattr(credential, field))
            sealed = crypto.seal(plaintext, context=sealed_context(credential.id, field))
            setattr(credential, f"{field}_sealed", sealed)
        credential.save(update_fields=["api_key_sealed", "api_secret_sealed"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="brokercredential",
            name="api_key_sealed",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="brokercredential",
            name="api_secret_sealed",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.RunPython(seal_legacy_rows, migrations.RunPython.noop, elidable=False),
        migrations.RemoveField(model_name="brokercredential", name="api_key"),
        migrations.RemoveField(model_name="brokercredential", name="api_secret"),
        migrations.AddField(
            model_name="brokercredential",
            name="inactive_reason",
            field=models.CharField(blank=True, default="", max_length=300),
        ),
    ]
