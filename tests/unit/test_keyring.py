from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tutela.adapters import crypto
from tutela.adapters.keyring import KeyRing
from tutela.domain.errors import IntegrityError, KeyRingError


def test_a_new_ring_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert ring.active_version == 1
    assert json.loads(path.read_text())["active"] == 1


def test_a_ring_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyRingError, match=f"chmod 600 {path}"):
        KeyRing.load(str(path))


def test_a_missing_ring_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="tutela init"):
        KeyRing.load(str(tmp_path / "nope.json"))


def test_a_corrupt_ring_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="not valid JSON"):
        KeyRing.load(str(path))


def test_tenants_get_different_keys(tmp_path: Path) -> None:
    ring = KeyRing.create(tmp_path / "keyring.json")
    assert ring.kek(1, "acme") != ring.kek(1, "globex")
    assert ring.index_key("acme", "email") != ring.index_key("globex", "email")


def test_rotation_keeps_old_versions_until_retired(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    old = ring.kek(1, "acme")
    assert ring.rotate() == 2
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = KeyRing.load(str(path))
    assert again.active_version == 2
    assert again.kek(1, "acme") == old
    with pytest.raises(KeyRingError, match="active"):
        ring.retire(2)
    ring.retire(1)
    with pytest.raises(KeyRingError, match="not in the key ring"):
        KeyRing.load(str(path)).kek(1, "acme")


def test_another_process_rotation_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    server = KeyRing.create(path)
    KeyRing.load(str(path)).rotate()
    server.refresh()
    assert server.active_version == 2


def test_an_inline_ring_loads_but_cannot_rotate(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    inline = KeyRing.load(path.read_text())
    assert inline.active_version == 1
    with pytest.raises(KeyRingError, match="inline"):
        inline.rotate()


def test_ciphertexts_are_bound_to_tenant_subject_and_field() -> None:
    dek = crypto.new_key()
    cipher = crypto.FieldCipher(dek, "acme", "s1")
    blob = cipher.encrypt("user.contact.email", "ada@example.com")
    assert cipher.decrypt("user.contact.email", blob) == "ada@example.com"
    with pytest.raises(IntegrityError):
        cipher.decrypt("user.name", blob)
    with pytest.raises(IntegrityError):
        crypto.FieldCipher(dek, "acme", "s2").decrypt("user.contact.email", blob)
    with pytest.raises(IntegrityError):
        crypto.FieldCipher(dek, "globex", "s1").decrypt("user.contact.email", blob)


def test_wrapped_keys_are_bound_to_their_subject_and_version() -> None:
    kek, dek = crypto.new_key(), crypto.new_key()
    wrapped = crypto.wrap_dek(kek, dek, "acme", "s1", 1)
    assert crypto.unwrap_dek(kek, wrapped, "acme", "s1", 1) == dek
    with pytest.raises(IntegrityError):
        crypto.unwrap_dek(kek, wrapped, "acme", "s2", 1)
    with pytest.raises(IntegrityError):
        crypto.unwrap_dek(kek, wrapped, "acme", "s1", 2)
