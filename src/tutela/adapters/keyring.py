"""The key ring: versioned master key-encryption keys and the blind-index secret.

File format (JSON, mode 0600)::

    {"format": "tutela-keyring/1", "active": 2,
     "keks": {"1": "<base64 32 bytes>", "2": "<base64 32 bytes>"},
     "index": "<base64 32 bytes>",
     "signing": {"active": "rk-1a2b3c4d", "keys": {"rk-1a2b3c4d": "<base64 32 bytes>"}}}

Each tenant's KEK is derived from the master KEK of a version with HKDF-SHA256
(info ``tutela:kek:<tenant>``), so every tenant has its own KEK while the file stays small.
Rotation adds a version and makes it active; retiring removes a version once no data key
is wrapped under it. The index secret never rotates with the KEKs: blind indexes would
otherwise all need rebuilding. The ring may also be given inline (JSON in the
``TUTELA_KEYRING`` setting); an inline ring cannot be rotated in place.

The optional ``signing`` section holds the Ed25519 private keys (32-byte seeds) that sign
consent receipts, by key id. A file ring gets its first one on first use; rotation adds a
key id and makes it active, and old ones stay so that receipts they signed still verify.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from tutela.adapters.crypto import derive_key, new_key
from tutela.adapters.signing import public_key_bytes
from tutela.domain.errors import KeyRingError

FORMAT = "tutela-keyring/1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key ring: {where} is not valid base64; restore the file") from None
    if len(raw) != 32:
        raise KeyRingError(f"key ring: {where} must be 32 bytes; restore the file")
    return raw


def _signing_section(section: Any) -> tuple[dict[str, bytes], str | None]:
    if section is None:
        return {}, None
    try:
        keys = {str(kid): _unb64(k, f"signing key {kid}") for kid, k in section["keys"].items()}
        active = section["active"]
    except (KeyError, TypeError, AttributeError):
        raise KeyRingError(
            "key ring: the signing section needs active and keys; restore it"
        ) from None
    if not keys or active not in keys:
        raise KeyRingError(f"key ring: active signing key {active!r} has no key; restore the file")
    return keys, active


def check_permissions(path: Path) -> None:
    """Refuse a key ring that group or others can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyRingError(
            f"the key ring {path} is accessible by other users (mode {mode:04o}); "
            f"restrict it with: chmod 600 {path}",
            details={"mode": f"{mode:04o}"},
        )


class KeyRing:
    """Master KEK versions and the index secret, with per-tenant derivation caches."""

    def __init__(
        self,
        keks: dict[int, bytes],
        active: int,
        index: bytes,
        path: Path | None = None,
        *,
        signing: dict[str, bytes] | None = None,
        signing_active: str | None = None,
    ) -> None:
        if active not in keks:
            raise KeyRingError(f"key ring: active version {active} has no key; restore the file")
        self._keks = dict(keks)
        self._active = active
        self._index = index
        self._signing = dict(signing or {})
        self._signing_active = signing_active if self._signing else None
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._kek_cache: dict[tuple[int, str], bytes] = {}
        self._index_cache: dict[tuple[str, str], bytes] = {}

    # -- construction -----------------------------------------------------------------

    @classmethod
    def create(cls, path: Path) -> KeyRing:
        """Write a new ring with version 1 to ``path`` (must not exist), mode 0600."""
        if path.exists():
            raise KeyRingError(f"a key ring already exists at {path}; it was left untouched")
        ring = cls({1: new_key()}, 1, new_key(), path)
        ring._write()
        return ring

    @classmethod
    def load(cls, source: str) -> KeyRing:
        """Load from a path, or from inline JSON when ``source`` starts with ``{``."""
        if source.lstrip().startswith("{"):
            return cls._from_document(cls._parse(source, "TUTELA_KEYRING"), None)
        path = Path(source).expanduser()
        if not path.exists():
            raise KeyRingError(
                f"no key ring at {path}; create one with `tutela init` or point "
                "TUTELA_KEYRING at the existing file"
            )
        check_permissions(path)
        return cls._from_document(cls._parse(path.read_text(), str(path)), path)

    @staticmethod
    def _parse(text: str, where: str) -> dict[str, Any]:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyRingError(
                f"key ring {where} is not valid JSON (line {exc.lineno}); restore it from backup"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeyRingError(f"key ring {where} is not a {FORMAT} document")
        return doc

    @classmethod
    def _from_document(cls, doc: dict[str, Any], path: Path | None) -> KeyRing:
        signing, signing_active = _signing_section(doc.get("signing"))
        try:
            keks = {int(v): _unb64(k, f"kek version {v}") for v, k in doc["keks"].items()}
            index = _unb64(doc["index"], "index")
            return cls(
                keks,
                int(doc["active"]),
                index,
                path,
                signing=signing,
                signing_active=signing_active,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise KeyRingError("key ring is missing keks, active or index; restore it") from None

    def _document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "format": FORMAT,
            "active": self._active,
            "keks": {str(v): _b64(k) for v, k in sorted(self._keks.items())},
            "index": _b64(self._index),
        }
        if self._signing:
            doc["signing"] = {
                "active": self._signing_active,
                "keys": {kid: _b64(k) for kid, k in sorted(self._signing.items())},
            }
        return doc

    def _write(self) -> None:
        if self.path is None:
            raise KeyRingError(
                "the key ring is given inline (TUTELA_KEYRING); it cannot be changed in place. "
                "Use a key ring file to rotate keys"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".keyring-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(self._document(), handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    # -- reading ----------------------------------------------------------------------

    @property
    def active_version(self) -> int:
        return self._active

    @property
    def versions(self) -> list[int]:
        return sorted(self._keks)

    def refresh(self) -> None:
        """Re-read the file if another process rotated or retired a version."""
        if self.path is None or self._file_stamp() == self._stamp:
            return
        with self._lock:
            fresh = KeyRing.load(str(self.path))
            self._keks, self._active, self._index = fresh._keks, fresh._active, fresh._index
            self._signing, self._signing_active = fresh._signing, fresh._signing_active
            self._stamp = fresh._stamp
            self._kek_cache.clear()

    def kek(self, version: int, tenant_id: str) -> bytes:
        """The KEK of ``tenant_id`` at ``version``."""
        cached = self._kek_cache.get((version, tenant_id))
        if cached is not None:
            return cached
        master = self._keks.get(version)
        if master is None:
            self.refresh()
            master = self._keks.get(version)
        if master is None:
            raise KeyRingError(
                f"key version {version} is not in the key ring (retired too early?); "
                "restore the key ring from its backup",
                details={"version": version},
            )
        key = derive_key(master, f"tutela:kek:{tenant_id}".encode())
        self._kek_cache[(version, tenant_id)] = key
        return key

    def index_key(self, tenant_id: str, kind: str) -> bytes:
        """The blind-index key of one tenant for one kind of identity (email, phone …)."""
        cached = self._index_cache.get((tenant_id, kind))
        if cached is None:
            cached = derive_key(self._index, f"tutela:index:{tenant_id}:{kind}".encode())
            self._index_cache[(tenant_id, kind)] = cached
        return cached

    # -- changing ---------------------------------------------------------------------

    def rotate(self) -> int:
        """Add a new master KEK version, make it active, persist; returns the version."""
        with self._lock:
            version = max(self._keks) + 1
            self._keks[version] = new_key()
            previous = self._active
            self._active = version
            try:
                self._write()
            except BaseException:
                del self._keks[version]
                self._active = previous
                raise
        return version

    def retire(self, version: int) -> None:
        """Remove ``version``; the caller has checked that no data key uses it."""
        with self._lock:
            if version not in self._keks:
                raise KeyRingError(f"key version {version} is not in the key ring")
            if version == self._active:
                raise KeyRingError(
                    f"key version {version} is active; run `tutela keys rotate` first"
                )
            removed = self._keks.pop(version)
            try:
                self._write()
            except BaseException:
                self._keks[version] = removed
                raise
            self._kek_cache = {k: v for k, v in self._kek_cache.items() if k[0] != version}

    # -- receipt signing keys ---------------------------------------------------------

    def signing_key(self) -> tuple[str, bytes]:
        """The active receipt-signing key: (kid, Ed25519 private seed).

        A file ring without one gets one now (the file is rewritten, mode 0600).
        """
        if self._signing_active is None:
            self.refresh()
        with self._lock:
            kid = self._signing_active
            if kid is None:
                if self.path is None:
                    raise KeyRingError(
                        "the inline key ring (TUTELA_KEYRING) has no signing key for receipts; "
                        "use a key ring file (it gets one on first use), or copy the signing "
                        "section of such a file into TUTELA_KEYRING"
                    )
                kid = self._add_signing_key()
            return kid, self._signing[kid]

    def signing_public_keys(self) -> dict[str, bytes]:
        """Raw Ed25519 public keys of every signing kid, retired-from-active ones included."""
        self.refresh()
        return {kid: public_key_bytes(seed) for kid, seed in sorted(self._signing.items())}

    def rotate_signing(self) -> str:
        """Add a new signing key, make it active, persist; returns its kid."""
        self.refresh()
        with self._lock:
            return self._add_signing_key()

    def _add_signing_key(self) -> str:
        kid = "rk-" + secrets.token_hex(4)
        while kid in self._signing:
            kid = "rk-" + secrets.token_hex(4)
        previous = self._signing_active
        self._signing[kid] = new_key()
        self._signing_active = kid
        try:
            self._write()
        except BaseException:
            del self._signing[kid]
            self._signing_active = previous
            raise
        return kid
