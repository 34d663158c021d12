"""Cryptographic primitives: field encryption, data-key wrapping, blind indexes, argon2id.

* Fields are AES-256-GCM encrypted under the subject's data key (DEK). The stored blob is
  ``nonce (12 bytes) || ciphertext+tag``; the associated data binds tenant, subject and field
  so a blob copied to another row or field fails to decrypt.
* DEKs are wrapped with AES-256-GCM under the tenant's key-encryption key (KEK); the
  associated data binds tenant, subject and KEK version.
* Blind indexes are HMAC-SHA256 of the normalised value under a per-tenant index key.
* Verify-only fields (passwords) are argon2id hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tutela.domain.errors import IntegrityError
from tutela.services.ports import AbstractCipher
from tutela.settings import Argon2Params

NONCE_BYTES = 12
KEY_BYTES = 32


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def derive_key(secret: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 of ``secret`` for one purpose named by ``info``."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(secret)


def field_aad(tenant_id: str, subject_id: str, field: str) -> bytes:
    return f"tutela:field:{tenant_id}:{subject_id}:{field}".encode()


def dek_aad(tenant_id: str, subject_id: str, kek_version: int) -> bytes:
    return f"tutela:dek:{tenant_id}:{subject_id}:{kek_version}".encode()


def seal(key: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + key.encrypt(nonce, plaintext, aad)


def open_sealed(key: AESGCM, blob: bytes, aad: bytes) -> bytes:
    try:
        return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise IntegrityError(
            "a stored ciphertext failed authentication: it was altered or moved from "
            "another row; restore it from a backup",
        ) from None


class FieldCipher(AbstractCipher):
    """Encrypts and decrypts the fields of one subject under its DEK."""

    __slots__ = ("_aead", "subject_id", "tenant_id")

    def __init__(self, dek: bytes, tenant_id: str, subject_id: str) -> None:
        self._aead = AESGCM(dek)
        self.tenant_id = tenant_id
        self.subject_id = subject_id

    def encrypt(self, field: str, value: str) -> bytes:
        return seal(self._aead, value.encode(), field_aad(self.tenant_id, self.subject_id, field))

    def decrypt(self, field: str, blob: bytes) -> str:
        aad = field_aad(self.tenant_id, self.subject_id, field)
        return open_sealed(self._aead, blob, aad).decode()


@lru_cache(maxsize=1024)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def wrap_dek(kek: bytes, dek: bytes, tenant_id: str, subject_id: str, version: int) -> bytes:
    return seal(_aead(kek), dek, dek_aad(tenant_id, subject_id, version))


def unwrap_dek(kek: bytes, wrapped: bytes, tenant_id: str, subject_id: str, version: int) -> bytes:
    return open_sealed(_aead(kek), wrapped, dek_aad(tenant_id, subject_id, version))


def blind_index(key: bytes, normalized: str) -> bytes:
    """Keyed HMAC-SHA256 of a normalised identity value (32 bytes)."""
    return hmac.new(key, normalized.encode(), hashlib.sha256).digest()


class SecretHasher:
    """argon2id hashing for verify-only fields; parameters from settings."""

    def __init__(self, params: Argon2Params) -> None:
        from argon2 import PasswordHasher, Type

        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            type=Type.ID,
        )

    def hash(self, secret: str) -> str:
        return str(self._hasher.hash(secret))

    def verify(self, encoded: str, secret: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(self._hasher.verify(encoded, secret))
        except VerificationError:
            return False
        except InvalidHashError:
            raise IntegrityError("a stored hash is malformed; it was altered") from None
