"""Receipt signing with the key ring's Ed25519 keys, behind the services' signer port."""

from __future__ import annotations

import threading
from typing import Any

from tutela.adapters.keyring import KeyRing
from tutela.adapters.signing import ReceiptSigner, jwks
from tutela.services.ports import AbstractReceiptSigner


class RingReceiptSigner(AbstractReceiptSigner):
    """Signs with the active signing key; the key is created in the ring on first use."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._signer: ReceiptSigner | None = None
        self._lock = threading.Lock()

    def _current(self) -> ReceiptSigner:
        kid, seed = self._ring.signing_key()
        signer = self._signer
        if signer is None or signer.kid != kid:
            with self._lock:
                signer = self._signer = ReceiptSigner(seed, kid)
        return signer

    def sign(self, payload: dict[str, Any]) -> str:
        return self._current().sign(payload)

    def jwks(self) -> dict[str, Any]:
        return jwks(self._ring.signing_public_keys())
