import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A user who logs in by email; there is no username."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email


class BrokerCredential(models.Model):
    """A user's API key pair for a broker; both halves sealed (accounts.crypto): this
    row never holds a plaintext, and only the orders worker can open it."""

    PAPER = "paper"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="broker_credentials")
    broker_name = models.CharField(max_length=50)
    api_key_sealed = models.TextField(editable=False)
    api_secret_sealed = models.TextField(editable=False)
    # The last four characters of the key, kept apart when sealing: shown instead of the key.
    api_key_last4 = models.CharField(max_length=4, editable=False)
    is_active = models.BooleanField(default=True)
    # Why the credential stopped trading (an authentication failure), for its owner.
    inactive_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "is_active"])]

    def __str__(self) -> str:
        return f"{self.broker_name} …{self.api_key_last4}"

    def sealed_context(self, field: str) -> str:
        return sealed_context(self.id, field)


def sealed_context(credential_id, field: str) -> str:
    """What a sealed half of a credential is bound to: its row and its field."""
    return f"broker-credential:{credential_id}:{field}"


class BalanceSnapshot(models.Model):
    """The newest balance read of a credential's exchange account (executions.balances):
    written by the credential check when the credential is created (the web process, with
    the plaintext of that request) and by the orders worker's refreshes. Never a key."""

    credential = models.OneToOneField(
        BrokerCredential, primary_key=True, on_delete=models.CASCADE, related_name="balance"
    )
    currency = models.CharField(max_length=20)
    # None: the exchange did not report the figure (it holds none of the currency).
    free = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    total = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    # When the exchange answered these figures (None: never read yet).
    taken_at = models.DateTimeField(null=True, blank=True)
    # The last refresh asked of the orders worker (one per BALANCE_REFRESH_INTERVAL_SECONDS).
    refresh_requested_at = models.DateTimeField(null=True, blank=True)
    # The last refresh that got no balance, and why (safe to show: never a key).
    failed_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.credential_id} {self.free} {self.currency} @ {self.taken_at}"
