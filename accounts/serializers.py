from django.contrib.auth import password_validation
from rest_framework import serializers

from .models import BrokerCredential, User


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email"]


class CredentialsInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class NewPasswordField(serializers.CharField):
    """A password being chosen: Django's password validators check it (the service); the
    schema states their rules (`schema_min_length`, read by tradeplatform.schema)."""

    def __init__(self, **kwargs):
        super().__init__(
            max_length=128,
            trim_whitespace=False,
            help_text=" ".join(password_validation.password_validators_help_texts()),
            **kwargs,
        )

    @property
    def schema_min_length(self) -> int:
        return min(
            (
                validator.min_length
                for validator in password_validation.get_default_password_validators()
                if isinstance(validator, password_validation.MinimumLengthValidator)
            ),
            default=1,
        )


class RegisterInputSerializer(CredentialsInputSerializer):
    password = NewPasswordField()


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=2000)


class AuthOutputSerializer(serializers.Serializer):
    user = UserSerializer()
    token = serializers.CharField()
    refresh = serializers.CharField()


class MeOutputSerializer(serializers.Serializer):
    user = UserSerializer()


class TokensOutputSerializer(serializers.Serializer):
    token = serializers.CharField()
    refresh = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class BrokerNameField(serializers.CharField):
    """Checked by the service (`broker_credential_create`), whose error lists the names.
    Not an enum in the schema: a fuzzer given real exchange ids reaches the exchange check,
    which answers 503 without internet."""

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "help_text",
            "`paper` (simulated fills, no key needed) or a ccxt exchange id such as binance "
            "(an API key and secret required); case-insensitive. An unsupported name is a 400 "
            "listing the supported ones.",
        )
        super().__init__(**kwargs)


class BrokerCredentialInputSerializer(serializers.Serializer):
    broker_name = BrokerNameField(max_length=50)
    api_key = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, write_only=True
    )
    api_secret = serializers.CharField(
        max_length=4000,
        required=False,
        allow_blank=True,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
    )


class BrokerCredentialOutputSerializer(serializers.ModelSerializer):
    """Never the key or the secret: the key's last four characters only."""

    api_key_last4 = serializers.CharField(read_only=True)

    class Meta:
        model = BrokerCredential
        fields = [
            "id",
            "broker_name",
            "api_key_last4",
            "is_active",
            "inactive_reason",
            "created_at",
        ]
        read_only_fields = fields
