from django.db import models

from . import crypto


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; Python code sees the plaintext."""

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None:
            return value
        return crypto.encrypt(value)
