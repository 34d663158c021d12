"""Signed receipts verify with the published keys, and any change to a token is caught."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.adapters.crypto import new_key
from tutela.adapters.keyring import KeyRing
from tutela.adapters.signing import ReceiptSigner, jwks, verify_jws
from tutela.domain.errors import IntegrityError, InvalidInput, KeyRingError, TutelaError

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
RECEIPT: dict[str, Any] = {
    "schema": "tutela-consent-receipt/1",
    "record_id": "00000000-0000-0000-0000-000000000007",
    "subject_id": "s-4f1c2a",
    "purposes": [{"key": "newsletter", "legal_basis_dpv": "dpv:Consent"}],
    "event": {"type": "grant", "state": "given", "time": "2024-10-09T10:40:00.123456Z"},
    "bundled": False,
    "note": "Grüße ✓",
}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def signer() -> ReceiptSigner:
    return ReceiptSigner(new_key(), "rk-0000test")


@pytest.fixture
def key_set(signer: ReceiptSigner) -> dict[str, Any]:
    return jwks([signer])


def test_a_signed_receipt_verifies(signer: ReceiptSigner, key_set: dict[str, Any]) -> None:
    token = signer.sign(RECEIPT)
    assert verify_jws(token, key_set) == RECEIPT
    header, payload, _ = token.split(".")
    assert json.loads(unb64(header)) == {
        "alg": "EdDSA",
        "kid": "rk-0000test",
        "typ": "tutela-receipt+jws",
    }
    # canonical JSON: sorted keys, no spaces, UTF-8
    expected = json.dumps(RECEIPT, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert unb64(payload) == expected.encode()
    assert signer.sign(dict(reversed(RECEIPT.items()))) == token


def test_the_jwks_publishes_okp_ed25519_keys(signer: ReceiptSigner) -> None:
    other = ReceiptSigner(new_key(), "rk-0000othr")
    published = jwks([signer, other])
    assert [k["kid"] for k in published["keys"]] == ["rk-0000test", "rk-0000othr"]
    key = published["keys"][0]
    assert key == signer.public_jwk()
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert unb64(key["x"]) == signer.public_key()
    assert len(signer.public_key()) == 32
    assert jwks({"rk-0000test": signer.public_key()}) == jwks([signer])


def test_a_changed_payload_fails_integrity(signer: ReceiptSigner, key_set: dict[str, Any]) -> None:
    header, _, signature = signer.sign(RECEIPT).split(".")
    forged = dict(RECEIPT, bundled=True)
    payload = b64(json.dumps(forged, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(IntegrityError, match="does not match"):
        verify_jws(f"{header}.{payload}.{signature}", key_set)


def test_a_changed_header_fails_integrity(signer: ReceiptSigner, key_set: dict[str, Any]) -> None:
    _, payload, signature = signer.sign(RECEIPT).split(".")
    header = b64(json.dumps({"alg": "EdDSA", "kid": "rk-0000test", "typ": "JWT"}).encode())
    with pytest.raises(IntegrityError):
        verify_jws(f"{header}.{payload}.{signature}", key_set)


def test_a_changed_signature_fails_integrity(
    signer: ReceiptSigner, key_set: dict[str, Any]
) -> None:
    header, payload, signature = signer.sign(RECEIPT).split(".")
    raw = bytearray(unb64(signature))
    raw[0] ^= 1
    with pytest.raises(IntegrityError):
        verify_jws(f"{header}.{payload}.{b64(bytes(raw))}", key_set)


def test_a_token_signed_by_another_key_with_the_same_kid_fails(
    key_set: dict[str, Any],
) -> None:
    impostor = ReceiptSigner(new_key(), "rk-0000test")
    with pytest.raises(IntegrityError):
        verify_jws(impostor.sign(RECEIPT), key_set)


@pytest.mark.parametrize("alg", ["none", "HS256", "RS256", "ES256", None])
def test_only_eddsa_is_accepted(
    signer: ReceiptSigner, key_set: dict[str, Any], alg: str | None
) -> None:
    _, payload, signature = signer.sign(RECEIPT).split(".")
    header = b64(json.dumps({"alg": alg, "kid": "rk-0000test"}).encode())
    for token in (f"{header}.{payload}.{signature}", f"{header}.{payload}."):
        with pytest.raises(InvalidInput, match="EdDSA"):
            verify_jws(token, key_set)


def test_critical_extensions_are_refused(signer: ReceiptSigner, key_set: dict[str, Any]) -> None:
    _, payload, signature = signer.sign(RECEIPT).split(".")
    header = {"alg": "EdDSA", "kid": "rk-0000test", "crit": ["b64"], "b64": False}
    with pytest.raises(InvalidInput, match="crit"):
        verify_jws(f"{b64(json.dumps(header).encode())}.{payload}.{signature}", key_set)


def test_an_unknown_kid_says_where_to_get_the_key(signer: ReceiptSigner) -> None:
    other = jwks([ReceiptSigner(new_key(), "rk-0000othr")])
    with pytest.raises(InvalidInput, match=r"no key with kid 'rk-0000test'.*JWKS") as info:
        verify_jws(signer.sign(RECEIPT), other)
    assert info.value.details == {"kid": "rk-0000test"}


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "!!!.e30.AAAA", "e30=.e30.AAAA", "bm90IGpzb24.e30.AAAA"],
)
def test_malformed_tokens_are_invalid_input(key_set: dict[str, Any], token: str) -> None:
    with pytest.raises(InvalidInput):
        verify_jws(token, key_set)


def test_a_non_canonical_base64url_signature_is_refused(
    signer: ReceiptSigner, key_set: dict[str, Any]
) -> None:
    header, payload, signature = signer.sign(RECEIPT).split(".")
    # 64 bytes take 86 characters; the last one carries 4 unused bits that must be zero
    last = ALPHABET.index(signature[-1])
    twin = signature[:-1] + ALPHABET[last + 1]
    assert unb64(twin) == unb64(signature)
    with pytest.raises(InvalidInput, match="canonical"):
        verify_jws(f"{header}.{payload}.{twin}", key_set)


def test_a_key_set_with_a_wrong_key_type_is_refused(signer: ReceiptSigner) -> None:
    token = signer.sign(RECEIPT)
    bad = {"keys": [dict(signer.public_jwk(), crv="X25519")]}
    with pytest.raises(InvalidInput, match="not an Ed25519 signing key"):
        verify_jws(token, bad)
    with pytest.raises(InvalidInput, match="JWKS"):
        verify_jws(token, {"keys": "nope"})


def test_payloads_must_be_json(signer: ReceiptSigner) -> None:
    with pytest.raises(InvalidInput, match="JSON"):
        signer.sign({"when": object()})
    with pytest.raises(InvalidInput, match="JSON"):
        signer.sign({"x": float("nan")})


def test_a_signer_needs_a_32_byte_key_and_a_kid() -> None:
    with pytest.raises(InvalidInput, match="32"):
        ReceiptSigner(b"short", "rk-1")
    with pytest.raises(InvalidInput, match="kid"):
        ReceiptSigner(new_key(), "")


# -- signing keys in the key ring -----------------------------------------------------------


def test_the_ring_gets_a_private_signing_key_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    assert "signing" not in json.loads(path.read_text())
    assert ring.signing_public_keys() == {}

    kid, private = ring.signing_key()
    assert kid.startswith("rk-")
    assert len(kid) == 11
    assert len(private) == 32
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    section = json.loads(path.read_text())["signing"]
    assert section["active"] == kid
    assert base64.b64decode(section["keys"][kid]) == private
    assert ring.signing_key() == (kid, private)

    again = KeyRing.load(str(path))
    assert again.signing_key() == (kid, private)
    assert again.active_version == ring.active_version
    assert again.kek(1, "acme") == ring.kek(1, "acme")


def test_a_receipt_signed_with_an_old_kid_verifies_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    old_signer = ReceiptSigner.from_key_ring(ring)
    old_token = old_signer.sign(RECEIPT)

    new_kid = ring.rotate_signing()
    assert new_kid != old_signer.kid
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    new_signer = ReceiptSigner.from_key_ring(ring)
    assert new_signer.kid == new_kid

    published = jwks(KeyRing.load(str(path)).signing_public_keys())
    assert {k["kid"] for k in published["keys"]} == {old_signer.kid, new_kid}
    assert verify_jws(old_token, published) == RECEIPT
    assert verify_jws(new_signer.sign(RECEIPT), published) == RECEIPT


def test_another_process_signing_rotation_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    server = KeyRing.create(path)
    first, _ = server.signing_key()
    second = KeyRing.load(str(path)).rotate_signing()
    assert set(server.signing_public_keys()) == {first, second}


def test_kek_rotation_keeps_the_signing_keys(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    kid, private = ring.signing_key()
    ring.rotate()
    assert KeyRing.load(str(path)).signing_key() == (kid, private)


def test_an_inline_ring_needs_a_signing_section(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    inline = KeyRing.load(path.read_text())
    with pytest.raises(KeyRingError, match="key ring file"):
        inline.signing_key()
    with pytest.raises(KeyRingError, match="inline"):
        inline.rotate_signing()

    file_ring = KeyRing.load(str(path))
    kid, private = file_ring.signing_key()
    assert KeyRing.load(path.read_text()).signing_key() == (kid, private)


def test_a_broken_signing_section_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    KeyRing.create(path).signing_key()
    doc = json.loads(path.read_text())
    doc["signing"]["active"] = "rk-missing"
    with pytest.raises(KeyRingError, match="rk-missing"):
        KeyRing.load(json.dumps(doc))
    doc["signing"] = {"active": "rk-1"}
    with pytest.raises(KeyRingError, match="signing section"):
        KeyRing.load(json.dumps(doc))


# -- properties -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(st.text(), JSON_VALUES, max_size=6)
PROPERTY_SIGNER = ReceiptSigner(bytes(range(32)), "rk-prop")
PROPERTY_JWKS = jwks([PROPERTY_SIGNER])


@settings(max_examples=200, deadline=None)
@given(payload=PAYLOADS)
def test_verify_inverts_sign(payload: dict[str, Any]) -> None:
    assert verify_jws(PROPERTY_SIGNER.sign(payload), PROPERTY_JWKS) == payload


@settings(max_examples=300, deadline=None)
@given(payload=PAYLOADS, data=st.data())
def test_flipping_any_byte_of_a_token_fails(payload: dict[str, Any], data: st.DataObject) -> None:
    token = PROPERTY_SIGNER.sign(payload).encode("ascii")
    position = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="position")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    changed = bytearray(token)
    changed[position] ^= mask
    with pytest.raises(TutelaError) as info:
        verify_jws(changed.decode("latin-1"), PROPERTY_JWKS)
    assert isinstance(info.value, (IntegrityError, InvalidInput))
