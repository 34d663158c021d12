"""Key rotation runs online: reads keep working while data keys are re-wrapped."""

from __future__ import annotations

import threading

import pytest

from tutela.bootstrap import Runtime
from tutela.domain.errors import Conflict, KeyRingError
from tutela.services import imports, keys, vault


def test_rotation_rewraps_every_key_and_the_old_version_can_retire(runtime: Runtime) -> None:
    who = runtime.operator()
    result = imports.import_subjects(
        runtime.ctx, who, [{"user.contact.email": f"r{i}@example.com"} for i in range(120)]
    )
    before = {sid: runtime.ctx.keys.get(sid) for sid in result.ids[:3]}
    rotated = keys.rotate(runtime.ctx, who, batch=50)
    assert rotated.version == 2
    assert rotated.rewrapped == 120
    assert rotated.remaining == 0
    assert keys.status(runtime.ctx)["versions"] == [
        {"version": 1, "data_keys": 0, "active": False},
        {"version": 2, "data_keys": 120, "active": True},
    ]
    for sid, old in before.items():
        new = runtime.ctx.keys.get(sid)
        assert old is not None
        assert new is not None
        assert new.version == 2
        assert new.wrapped != old.wrapped
    keys.retire(runtime.ctx, who, 1)
    assert runtime.ring.versions == [2]
    view = vault.read(runtime.ctx, who, result.ids[-1])
    assert view.fields["user.contact.email"] == "r119@example.com"


def test_reads_keep_working_during_rotation(runtime: Runtime) -> None:
    who = runtime.operator()
    ids = imports.import_subjects(
        runtime.ctx, who, [{"user.contact.email": f"c{i}@example.com"} for i in range(200)]
    ).ids
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        i = 0
        while not stop.is_set():
            try:
                view = vault.read(runtime.ctx, who, ids[i % len(ids)])
                assert view.fields["user.contact.email"] == f"c{i % len(ids)}@example.com"
            except BaseException as exc:  # collected and asserted below
                failures.append(exc)
                return
            i += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        keys.rotate(runtime.ctx, who, batch=20)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert failures == []


def test_a_version_still_in_use_cannot_retire(runtime: Runtime) -> None:
    who = runtime.operator()
    vault.register(runtime.ctx, who, {"user.contact.email": "k@example.com"})
    runtime.ctx.crypto.rotate()  # new version, nothing re-wrapped yet
    with pytest.raises(Conflict, match="tutela keys rewrap"):
        keys.retire(runtime.ctx, who, 1)
    with pytest.raises(KeyRingError, match="active"):
        keys.retire(runtime.ctx, who, 2)
    assert keys.rewrap(runtime.ctx, who).rewrapped == 1
    keys.retire(runtime.ctx, who, 1)
