"""Broker credentials in a sealed box: every process can seal, only the orders worker opens.

The platform has one X25519 key pair for broker credentials. Every process holds the
public key (`BROKER_PUBLIC_KEY`) and seals what a user sends; only the orders worker is
given the private keys (`BROKER_PRIVATE_KEYS`), so a compromised web process or strategy
worker yields ciphertext only.

A sealed value is ``sealed:v1:<key id>:<base64url(ephemeral public key ‖ nonce ‖ ciphertext)>``:
X25519 between a fresh ephemeral key and the platform's public key, HKDF-SHA256 (salt:
both public keys, info: the version and key id) to a 256-bit key, ChaCha20-Poly1305 with
a random nonce and, as associated data, the key id and the `context` the caller names
(the credential's id and the field): a value copied into another row or field does not open.

The key id is the first 16 hex digits of SHA-256 of the raw public key. Rotation: give the
orders worker the new private key first in `BROKER_PRIVATE_KEYS` (the old ones after it),
every process the new `BROKER_PUBLIC_KEY`, then run ``python manage.py reseal_credentials``
in the orders worker's environment; afterwards the old private key can go.

`FIELD_ENCRYPTION_KEYS` (Fernet, symmetric) only serves the migration of credentials stored
before the sealed box (accounts migration 0002), see `legacy_fernet_decrypt`.
"""

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

PREFIX = "sealed"
VERSION = "v1"
_NONCE = 12
_RAW_KEY = 32


class SealedBoxError(Exception):
    """A sealed value could not be opened. The message never holds key material."""


class NoPrivateKey(SealedBoxError):
    """This process holds no private key for the value's key id (it is not the orders
    worker, or the key was retired)."""


def public_raw(encoded: str) -> bytes:
    return _raw(encoded, name="BROKER_PUBLIC_KEY")


def _raw(encoded: str, *, name: str) -> bytes:
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not base64") from exc
    if len(raw) != _RAW_KEY:
        raise ImproperlyConfigured(f"{name} must be {_RAW_KEY} bytes (base64)")
    return raw


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@lru_cache(maxsize=1)
def _public_key() -> tuple[str, bytes]:
    raw = public_raw(settings.BROKER_PUBLIC_KEY)
    return key_id(raw), raw


@lru_cache(maxsize=1)
def _private_keys() -> dict[str, X25519PrivateKey]:
    keys = {}
    for encoded in settings.BROKER_PRIVATE_KEYS:
        if encoded.strip():
            private = X25519PrivateKey.from_private_bytes(_raw(encoded, name="BROKER_PRIVATE_KEYS"))
            keys[key_id(private.public_key().public_bytes_raw())] = private
    return keys


def keys_reload() -> None:
    """Forget the keys read from settings (after a settings change: tests, rotation)."""
    _public_key.cache_clear()
    _private_keys.cache_clear()


def _on_setting_changed(*, setting, **kwargs) -> None:
    if setting in ("BROKER_PUBLIC_KEY", "BROKER_PRIVATE_KEYS", "DEBUG"):
        keys_reload()


setting_changed.connect(_on_setting_changed)


def can_unseal() -> bool:
    """Whether this process holds any private key (only the orders worker should)."""
    return bool(_private_keys())


def current_key_id() -> str:
    return _public_key()[0]


def _derive(shared: bytes, ephemeral: bytes, recipient: bytes, kid: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=ephemeral + recipient,
        info=f"tradeplatform broker credential {VERSION} {kid}".encode(),
    ).derive(shared)


def _aad(kid: str, context: str) -> bytes:
    return f"{VERSION}:{kid}:{context}".encode()


def seal(plaintext: str, *, context: str) -> str:
    """Seal `plaintext` to the platform's public key; `context` must be given again to open."""
    kid, recipient_raw = _public_key()
    ephemeral = X25519PrivateKey.generate()
    ephemeral_raw = ephemeral.public_key().public_bytes_raw()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_raw))
    nonce = os.urandom(_NONCE)
    box = ChaCha20Poly1305(_derive(shared, ephemeral_raw, recipient_raw, kid))
    ciphertext = box.encrypt(nonce, plaintext.encode(), _aad(kid, context))
    body = base64.urlsafe_b64encode(ephemeral_raw + nonce + ciphertext).decode()
    return f"{PREFIX}:{VERSION}:{kid}:{body}"


def sealed_key_id(sealed: str) -> str:
    parts = sealed.split(":")
    if len(parts) != 4 or parts[0] != PREFIX or parts[1] != VERSION:
        raise SealedBoxError("not a sealed value")
    return parts[2]


def unseal(sealed: str, *, context: str) -> str:
    """Open a sealed value; raises NoPrivateKey outside the orders worker."""
    kid = sealed_key_id(sealed)
    private = _private_keys().get(kid)
    if private is None:
        raise NoPrivateKey(f"no private key for key id {kid} in this process")
    try:
        raw = base64.urlsafe_b64decode(sealed.rsplit(":", 1)[1])
    except ValueError as exc:
        raise SealedBoxError("malformed sealed value") from exc
    ephemeral_raw, nonce, ciphertext = (
        raw[:_RAW_KEY],
        raw[_RAW_KEY : _RAW_KEY + _NONCE],
        raw[_RAW_KEY + _NONCE :],
    )
    if len(ephemeral_raw) != _RAW_KEY or len(nonce) != _NONCE:
        raise SealedBoxError("malformed sealed value")
    shared = private.exchange(X25519PublicKey.from_public_bytes(ephemeral_raw))
    recipient_raw = private.public_key().public_bytes_raw()
    box = ChaCha20Poly1305(_derive(shared, ephemeral_raw, recipient_raw, kid))
    try:
        return box.decrypt(nonce, ciphertext, _aad(kid, context)).decode()
    except InvalidTag as exc:
        raise SealedBoxError("sealed value does not open (tampered, or another row's)") from exc


def keypair_generate() -> tuple[str, str]:
    """A new (private, public) key pair, base64 of the raw 32-byte keys."""
    private = X25519PrivateKey.generate()
    return (
        base64.b64encode(private.private_bytes_raw()).decode(),
        base64.b64encode(private.public_key().public_bytes_raw()).decode(),
    )


def legacy_fernet_decrypt(token: str) -> str:
    """A value stored before the sealed box (Fernet under `FIELD_ENCRYPTION_KEYS`)."""
    keys = [key.strip() for key in settings.FIELD_ENCRYPTION_KEYS if key.strip()]
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be set to migrate credentials stored before the sealed box"
        )
    try:
        return MultiFernet([Fernet(key) for key in keys]).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SealedBoxError(
            "a legacy credential does not decrypt with FIELD_ENCRYPTION_KEYS"
        ) from exc
