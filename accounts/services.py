import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import authenticate, password_validation, user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from tradeplatform.api import ApplicationError

from . import crypto
from .lockout import lockout_message
from .models import BalanceSnapshot, BrokerCredential, User
from .tokens import SessionToken


def user_quota_check(*, user: User, used: QuerySet, limit: int, label: str) -> None:
    """Refuse a new row when `used` (the user's rows that count against a quota) holds
    `limit` already. Call it inside the transaction that creates the row: the user's row
    lock makes two concurrent creations by the same user count one after the other."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    if used.count() >= limit:
        raise ApplicationError(f"{label} limit reached ({limit})")


def tokens_for_user(user: User) -> dict:
    refresh = RefreshToken.for_user(user)
    return {"token": str(refresh.access_token), "refresh": str(refresh)}


def user_register(*, email: str, password: str, name: str = "") -> User:
    """`name`: the person's full name, when the client asks for one (the original SPA)."""
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email=email).exists():
        raise ApplicationError("User already exists", status_code=409)
    password_check(password=password, user=User(email=email))
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password, first_name=name.strip())
    except IntegrityError as exc:  # a concurrent register of the same email
        raise ApplicationError("User already exists", status_code=409) from exc


def user_login(*, request, email: str, password: str) -> User:
    """Check the password; django-axes (first authentication backend) refuses a locked-out
    email before that and counts the failures, which an unknown email collects too, so a
    lockout says nothing about whether an account exists."""
    # Django's ModelBackend hashes a dummy password for an unknown email, so both
    # failures take as long and answer the same.
    user = authenticate(request, email=email.lower(), password=password)
    if getattr(request, "axes_locked_out", False):
        raise ApplicationError(lockout_message(), status_code=429)
    if user is None:
        raise ApplicationError("Invalid credentials", status_code=401)
    # What django.contrib.auth.login() would send: axes resets the failure count, Django
    # stamps last_login. No session is opened; the answer carries JWTs.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return user


def token_refresh(*, refresh: str) -> dict:
    try:
        token = RefreshToken(refresh)
        user_id = token.payload.get("user_id")
        user = User.objects.filter(id=user_id, is_active=True).first()
        if user is None:
            raise ApplicationError("Invalid or expired refresh token", status_code=401)
        _, first_use = token.blacklist()
    except TokenError as exc:
        raise ApplicationError("Invalid or expired refresh token", status_code=401) from exc
    if not first_use:  # a concurrent refresh rotated this token first
        raise ApplicationError("Invalid or expired refresh token", status_code=401)
    return tokens_for_user(user)


def token_revoke(*, refresh: str) -> None:
    try:
        RefreshToken(refresh).blacklist()
    except TokenError as exc:
        raise ApplicationError("Invalid or expired refresh token", status_code=401) from exc


@functools.cache
def supported_brokers() -> frozenset[str]:
    """`paper` and every exchange id ccxt knows (imported once, on first use)."""
    import ccxt

    return frozenset({BrokerCredential.PAPER, *ccxt.exchanges})


@dataclass(frozen=True)
class BrokerSecrets:
    """An opened credential (orders worker only); its repr never shows the halves."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)


def broker_credential_seal(*, credential: BrokerCredential, api_key: str, api_secret: str) -> None:
    """Seal both halves into the (unsaved or re-saved) row and keep the key's last four."""
    credential.api_key_sealed = crypto.seal(api_key, context=credential.sealed_context("api_key"))
    credential.api_secret_sealed = crypto.seal(
        api_secret, context=credential.sealed_context("api_secret")
    )
    credential.api_key_last4 = api_key[-4:]


def broker_credential_open(*, credential: BrokerCredential) -> BrokerSecrets:
    """Both halves in the clear. Only the orders worker holds the private key: anywhere
    else this raises crypto.NoPrivateKey."""
    return BrokerSecrets(
        api_key=crypto.unseal(
            credential.api_key_sealed, context=credential.sealed_context("api_key")
        ),
        secret=crypto.unseal(
            credential.api_secret_sealed, context=credential.sealed_context("api_secret")
        ),
    )


def broker_credentials_reseal() -> int:
    """Seal again, to the current public key, every credential sealed to an older one
    (`manage.py reseal_credentials`, run where the private keys are). Answers how many."""
    current = crypto.current_key_id()
    resealed = 0
    for credential in BrokerCredential.objects.iterator():
        if crypto.sealed_key_id(credential.api_key_sealed) == current and (
            crypto.sealed_key_id(credential.api_secret_sealed) == current
        ):
            continue
        secrets = broker_credential_open(credential=credential)
        broker_credential_seal(
            credential=credential, api_key=secrets.api_key, api_secret=secrets.secret
        )
        credential.save(update_fields=["api_key_sealed", "api_secret_sealed", "api_key_last4"])
        resealed += 1
    return resealed


def broker_credential_create(
    *, user: User, broker_name: str, api_key: str = "", api_secret: str = ""
) -> BrokerCredential:
    """Check an exchange credential with one signed read-only call (its balance) while its
    plaintext is still in this request, then store it sealed, with the balance that call
    read as its first balance snapshot (executions.balances). The web process never
    opens a stored credential: the check uses what the user has just sent."""
    broker_name = broker_name.strip().lower()
    if broker_name not in supported_brokers():
        exchanges = sorted(supported_brokers() - {BrokerCredential.PAPER})
        message = (
            f"Unsupported broker: {broker_name[:50]}. Supported: {BrokerCredential.PAPER} "
            f"(simulated fills, no key) or an exchange id: {', '.join(exchanges)}"
        )
        raise ApplicationError(message, details={"broker_name": [message]})
    if broker_name != BrokerCredential.PAPER:
        if not (api_key and api_secret):
            message = "An API key and secret are required for an exchange"
            raise ApplicationError(message, details={"api_key": [message]})
        balance = broker_credential_check(
            broker_name=broker_name, api_key=api_key, api_secret=api_secret
        )
    credential = BrokerCredential(user=user, broker_name=broker_name)
    broker_credential_seal(credential=credential, api_key=api_key, api_secret=api_secret)
    with transaction.atomic():
        credential.save()
        if broker_name != BrokerCredential.PAPER:
            balance_snapshot_record(credential_id=credential.id, balance=balance)
    return credential


def broker_credential_check(*, broker_name: str, api_key: str, api_secret: str):
    """The exchange must accept the key pair for a balance read (400 when it refuses,
    503 when it cannot be reached). Answers the account's `BALANCE_CURRENCY` balance
    (a `marketdata.exchanges.AccountBalance`) that read returned."""
    from marketdata.exchanges import CredentialCheck, credential_check

    outcome, balance = credential_check(
        exchange_id=broker_name,
        api_key=api_key,
        secret=api_secret,
        currency=settings.BALANCE_CURRENCY,
    )
    if outcome is CredentialCheck.INVALID:
        message = "The exchange refused this API key and secret"
        raise ApplicationError(message, details={"api_key": [message]})
    if outcome is CredentialCheck.UNAVAILABLE:
        raise ApplicationError(
            "The exchange could not be reached to check this credential; try again",
            status_code=503,
        )
    return balance


def balance_snapshot_record(*, credential_id, balance) -> None:
    """The credential's balance snapshot is now `balance` (an AccountBalance just read
    from the exchange), taken now."""
    BalanceSnapshot.objects.update_or_create(
        credential_id=credential_id,
        defaults={
            "currency": balance.currency,
            "free": balance.free,
            "total": balance.total,
            "taken_at": timezone.now(),
        },
    )


@transaction.atomic
def broker_credential_deactivate(*, credential: BrokerCredential) -> BrokerCredential:
    """Soft delete; refused while an active subscription trades with it. The row lock
    orders this against a concurrent subscribe that picks the same credential."""
    locked = BrokerCredential.objects.select_for_update().get(id=credential.id)
    # The reverse relation, not an import: accounts sits below subscriptions.
    if locked.subscriptions.filter(is_active=True).exists():
        raise ApplicationError("Broker credential is used by an active subscription")
    if locked.is_active:
        locked.is_active = False
        locked.save(update_fields=["is_active"])
    return locked


def session_token_for_user(user: User) -> str:
    """A revocable session token (accounts.tokens) for the original SPA's sign-in."""
    return str(SessionToken.for_user(user))


def session_token_revoke(*, token: str) -> None:
    """End a session token now. An expired, forged or other kind of token ends by
    itself (or never was a session): nothing to do."""
    try:
        SessionToken(token).blacklist()
    except TokenError:
        return


def password_check(*, password: str, user: User, field: str = "password") -> None:
    """Django's password validators, as a 400 naming `field`."""
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ApplicationError("Password is too weak", details={field: list(exc.messages)}) from exc


def user_password_change(
    *, request, user: User, current_password: str, new_password: str, keep_token: str = ""
) -> None:
    """Set a new password, given the current one, and end every other session: each
    refresh and session token of the user is revoked but `keep_token` (the caller's).
    The current password is checked as a sign-in is (`user_login`): a wrong one counts
    toward the account's lockout, and a locked account is refused (429), so a stolen
    session cannot guess the password faster than the sign-in form. The check is
    outside the transaction: a refusal must not roll back the failure it counted."""
    if authenticate(request, email=user.email, password=current_password) != user:
        if getattr(request, "axes_locked_out", False):
            raise ApplicationError(lockout_message(), status_code=429)
        message = "Current password is incorrect"
        raise ApplicationError(message, details={"current_password": [message]})
    password_check(password=new_password, user=user, field="new_password")
    with transaction.atomic():
        _password_set_ending_other_sessions(
            user=user, new_password=new_password, keep_token=keep_token
        )


def _password_set_ending_other_sessions(*, user: User, new_password: str, keep_token: str):
    user.set_password(new_password)
    user.save(update_fields=["password"])
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    keep_jti = ""
    if keep_token:
        try:
            keep_jti = SessionToken(keep_token)["jti"]
        except TokenError:
            keep_jti = ""
    others = OutstandingToken.objects.filter(user=user).exclude(jti=keep_jti)
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in others.filter(blacklistedtoken=None)],
        ignore_conflicts=True,
    )


def user_rename(*, user: User, name: str) -> User:
    """Set the person's full name (kept whole in `first_name`)."""
    user.first_name, user.last_name = name.strip(), ""
    user.save(update_fields=["first_name", "last_name"])
    return user
