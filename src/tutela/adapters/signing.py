"""Signed receipts: Ed25519 JSON Web Signatures in compact serialization.

A token is ``BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)`` (RFC 7515)
with the protected header ``{"alg": "EdDSA", "kid": …, "typ": "tutela-receipt+jws"}`` and an
Ed25519 signature over the ASCII of the first two parts (RFC 8037). The payload is canonical
JSON: keys sorted, no spaces, UTF-8, so the same receipt always gives the same bytes.

Public keys are published as a JSON Web Key Set of ``OKP`` / ``Ed25519`` keys, one per key
id (``kid``). A verifier picks the key by the token's ``kid``; it never trusts a key embedded
in the token, and it accepts ``EdDSA`` only (``none`` and every other algorithm are refused).
Every base64url part must be in its one canonical form, so no two distinct tokens verify as
the same receipt.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tutela.domain.errors import IntegrityError, InvalidInput

if TYPE_CHECKING:
    from tutela.adapters.keyring import KeyRing

ALG = "EdDSA"
TYP = "tutela-receipt+jws"
KEY_BYTES = 32

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str, what: str, fix: str = "pass the token exactly as issued") -> bytes:
    """Decode unpadded base64url, refusing any text that is not the canonical encoding."""
    raw: bytes | None = None
    if _BASE64URL.fullmatch(text) and len(text) % 4 != 1:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or _b64url(raw) != text:
        raise InvalidInput(f"{what} is not canonical base64url; {fix}", details={"part": what})
    return raw


def canonical_json(payload: Mapping[str, Any]) -> bytes:
    """The canonical JSON bytes of a payload: sorted keys, no spaces, UTF-8."""
    try:
        text = json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"the payload is not JSON-able ({exc}); use str keys and JSON values only"
        ) from None
    return text.encode("utf-8")


def public_key_bytes(private_key: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a raw 32-byte private key (seed)."""
    return _private(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(kid: str, public_key: bytes) -> dict[str, str]:
    """The JSON Web Key of a raw Ed25519 public key."""
    if len(public_key) != KEY_BYTES:
        raise InvalidInput(f"an Ed25519 public key has {KEY_BYTES} bytes, not {len(public_key)}")
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(public_key),
        "kid": kid,
        "use": "sig",
        "alg": ALG,
    }


def _private(private_key: bytes) -> Ed25519PrivateKey:
    if not isinstance(private_key, bytes) or len(private_key) != KEY_BYTES:
        raise InvalidInput(f"an Ed25519 private key is {KEY_BYTES} raw bytes")
    return Ed25519PrivateKey.from_private_bytes(private_key)


class ReceiptSigner:
    """Signs payloads with one Ed25519 key, named in every token by its key id."""

    def __init__(self, private_key: bytes, kid: str) -> None:
        if not isinstance(kid, str) or not kid:
            raise InvalidInput("a signing key needs a non-empty key id (kid)")
        self._key = _private(private_key)
        self._kid = kid
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        header = {"alg": ALG, "kid": kid, "typ": TYP}
        self._header = _b64url(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())

    @classmethod
    def from_key_ring(cls, ring: KeyRing) -> ReceiptSigner:
        """A signer with the key ring's active signing key (created on first use)."""
        kid, private_key = ring.signing_key()
        return cls(private_key, kid)

    @property
    def kid(self) -> str:
        return self._kid

    def public_key(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self._kid, self._public)

    def sign(self, payload: Mapping[str, Any]) -> str:
        """A compact JWS of the canonical JSON of ``payload``."""
        signing_input = f"{self._header}.{_b64url(canonical_json(payload))}"
        signature = self._key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{_b64url(signature)}"


def jwks(keys: Iterable[ReceiptSigner] | Mapping[str, bytes]) -> dict[str, list[dict[str, str]]]:
    """A JSON Web Key Set of signers, or of raw public keys by kid (``KeyRing`` gives those)."""
    if isinstance(keys, Mapping):
        return {"keys": [public_jwk(kid, public) for kid, public in keys.items()]}
    return {"keys": [signer.public_jwk() for signer in keys]}


def verify_jws(token: str, jwks: Mapping[str, Any]) -> dict[str, Any]:
    """The payload of a token signed by a key of ``jwks``.

    Raises :class:`~tutela.domain.errors.IntegrityError` when the signature does not match
    (header, payload or signature changed, or forged), and
    :class:`~tutela.domain.errors.InvalidInput` for a malformed token, an algorithm other
    than EdDSA, or a key id the key set does not hold.
    """
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidInput(
            "a signed receipt is a compact JWS: three base64url parts joined by dots; "
            "pass the token exactly as issued"
        )
    header_part, payload_part, signature_part = token.split(".")
    header = _json_object(_unb64url(header_part, "the token's header"), "the token's header")
    kid = _check_header(header)
    public = _select_key(jwks, kid)
    payload = _unb64url(payload_part, "the token's payload")
    signature = _unb64url(signature_part, "the token's signature")
    try:
        public.verify(signature, f"{header_part}.{payload_part}".encode("ascii"))
    except InvalidSignature:
        raise IntegrityError(
            f"the receipt signature does not match (key {kid!r}): its header, payload or "
            "signature was changed, or it was not signed by this issuer; do not trust it",
            details={"kid": kid},
        ) from None
    return _json_object(payload, "the token's payload")


def _json_object(raw: bytes, part: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ValueError("duplicate member name")
        return result

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidInput(
            f"{part} is not a JSON object; pass the token exactly as issued",
            details={"part": part},
        )
    return value


def _check_header(header: Mapping[str, Any]) -> str:
    alg = header.get("alg")
    if alg != ALG:
        raise InvalidInput(
            f"the token's algorithm {alg!r} is refused: receipts are signed with EdDSA "
            "(Ed25519) only; ask the issuer for a token signed with EdDSA",
            details={"alg": str(alg)},
        )
    if "crit" in header:
        raise InvalidInput(
            "the token's header lists critical extensions (crit), which are not supported; "
            "ask the issuer for a plain EdDSA token"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidInput(
            "the token's header has no key id (kid); it cannot be matched to a published key"
        )
    return kid


def _select_key(key_set: Mapping[str, Any], kid: str) -> Ed25519PublicKey:
    keys = key_set.get("keys") if isinstance(key_set, Mapping) else None
    if not isinstance(keys, list):
        raise InvalidInput('the key set is not a JWKS: expected {"keys": [...]}')
    matches = [k for k in keys if isinstance(k, Mapping) and k.get("kid") == kid]
    if not matches:
        known = ", ".join(repr(k.get("kid")) for k in keys if isinstance(k, Mapping))
        raise InvalidInput(
            f"no key with kid {kid!r} in the key set (it has {known or 'no keys'}); fetch the "
            "issuer's current JWKS, or check that the receipt comes from this issuer",
            details={"kid": kid},
        )
    if len(matches) > 1:
        raise InvalidInput(f"the key set holds kid {kid!r} more than once; fix the key set")
    jwk = matches[0]
    if (
        jwk.get("kty") != "OKP"
        or jwk.get("crv") != "Ed25519"
        or jwk.get("alg", ALG) != ALG
        or jwk.get("use", "sig") != "sig"
        or not isinstance(jwk.get("x"), str)
    ):
        raise InvalidInput(
            f"the key {kid!r} is not an Ed25519 signing key (kty OKP, crv Ed25519); "
            "fix the key set",
            details={"kid": kid},
        )
    raw = _unb64url(jwk["x"], f"the x of key {kid!r}", "fix the key set")
    if len(raw) != KEY_BYTES:
        raise InvalidInput(f"the key {kid!r} is not {KEY_BYTES} bytes; fix the key set")
    return Ed25519PublicKey.from_public_bytes(raw)
