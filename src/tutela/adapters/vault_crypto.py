"""The vault's cryptography: the key ring plus the primitives of ``crypto.py``."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tutela.adapters import crypto
from tutela.adapters.keyring import KeyRing
from tutela.services.ports import AbstractCipher, AbstractVaultCrypto, WrappedKey
from tutela.settings import Argon2Params


class RingCrypto(AbstractVaultCrypto):
    def __init__(self, ring: KeyRing, argon2: Argon2Params) -> None:
        self.ring = ring
        self._argon2 = argon2
        self._hasher: crypto.SecretHasher | None = None
        self._audit_key = ring.index_key("_audit", "head-seal")
        self._blob_keys: dict[str, AESGCM] = {}

    @property
    def active_version(self) -> int:
        return self.ring.active_version

    def new_key(self, tenant_id: str, subject_id: str) -> tuple[bytes, WrappedKey]:
        dek = crypto.new_key()
        return dek, self.wrap(tenant_id, subject_id, dek)

    def wrap(self, tenant_id: str, subject_id: str, dek: bytes) -> WrappedKey:
        self.ring.refresh()  # another process may have rotated (one stat call)
        version = self.ring.active_version
        kek = self.ring.kek(version, tenant_id)
        wrapped = crypto.wrap_dek(kek, dek, tenant_id, subject_id, version)
        return WrappedKey(subject_id, tenant_id, version, wrapped)

    def unwrap(self, key: WrappedKey) -> bytes:
        kek = self.ring.kek(key.version, key.tenant_id)
        return crypto.unwrap_dek(kek, key.wrapped, key.tenant_id, key.subject_id, key.version)

    def cipher(self, dek: bytes, tenant_id: str, subject_id: str) -> AbstractCipher:
        return crypto.FieldCipher(dek, tenant_id, subject_id)

    def index(self, tenant_id: str, kind: str, normalized: str) -> bytes:
        return crypto.blind_index(self.ring.index_key(tenant_id, kind), normalized)

    def _secret_hasher(self) -> crypto.SecretHasher:
        if self._hasher is None:
            self._hasher = crypto.SecretHasher(self._argon2)
        return self._hasher

    def hash_secret(self, secret: str) -> str:
        return self._secret_hasher().hash(secret)

    def verify_secret(self, encoded: str, secret: str) -> bool:
        return self._secret_hasher().verify(encoded, secret)

    def seal(self, data: bytes) -> bytes:
        return hmac.new(self._audit_key, data, hashlib.sha256).digest()

    def refresh(self) -> None:
        self.ring.refresh()

    def _blob_key(self, purpose: str) -> AESGCM:
        key = self._blob_keys.get(purpose)
        if key is None:
            key = self._blob_keys[purpose] = AESGCM(self.ring.index_key("_blobs", purpose))
        return key

    def seal_blob(self, purpose: str, aad: bytes, data: bytes) -> bytes:
        return crypto.seal(self._blob_key(purpose), data, aad)

    def open_blob(self, purpose: str, aad: bytes, blob: bytes) -> bytes:
        return crypto.open_sealed(self._blob_key(purpose), blob, aad)

    @property
    def versions(self) -> list[int]:
        return self.ring.versions

    def rotate(self) -> int:
        return self.ring.rotate()

    def retire(self, version: int) -> None:
        self.ring.retire(version)
