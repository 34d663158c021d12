"""Finishing erasures after a main-database restore: only subjects whose key is gone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tutela.adapters.keystore import SqlKeyStore
from tutela.bootstrap import Runtime
from tutela.domain.errors import Conflict
from tutela.services import keys, vault


def test_only_subjects_without_a_key_are_erased(runtime: Runtime) -> None:
    who = runtime.operator()
    gone = vault.register(runtime.ctx, who, {"user.contact.email": "g@example.com"}).id
    kept = vault.register(runtime.ctx, who, {"user.contact.email": "k@example.com"}).id
    erased = vault.register(runtime.ctx, who, {"user.contact.email": "e@example.com"}).id
    vault.erase(runtime.ctx, who, erased, "erasure")
    runtime.ctx.keys.delete(gone)  # as if the database had been restored from before
    plan = keys.reconcile(runtime.ctx, who, apply=False)
    assert (plan.checked, plan.shredded, plan.revived, plan.applied) == (2, [gone], [], False)
    assert vault.list_page(runtime.ctx, who, None, 10).items[0]["status"] == "active"
    done = keys.reconcile(runtime.ctx, who, apply=True)
    assert (done.shredded, done.applied) == ([gone], True)
    statuses = {i["id"]: i["status"] for i in vault.list_page(runtime.ctx, who, None, 10).items}
    assert statuses == {gone: "erased", kept: "active", erased: "erased"}
    assert vault.read(runtime.ctx, who, kept).fields == {"user.contact.email": "k@example.com"}


def test_a_wrong_key_store_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    who = runtime.operator()
    sid = vault.register(runtime.ctx, who, {"user.contact.email": "w@example.com"}).id
    empty = SqlKeyStore(create_engine(f"sqlite:///{tmp_path / 'other-keys.db'}"))
    empty.create_schema()
    ctx = dataclasses.replace(runtime.ctx, keys=empty)
    assert keys.reconcile(ctx, who, apply=False).shredded == [sid]
    with pytest.raises(Conflict, match="TUTELA_KEYSTORE_URL"):
        keys.reconcile(ctx, who, apply=True)
    assert vault.read(runtime.ctx, who, sid).status == "active"


def test_a_key_back_from_an_old_key_store_backup_is_deleted_again(runtime: Runtime) -> None:
    who = runtime.operator()
    sid = vault.register(runtime.ctx, who, {"user.contact.email": "r@example.com"}).id
    old = runtime.ctx.keys.get(sid)
    assert old is not None
    vault.erase(runtime.ctx, who, sid, "erasure")
    runtime.ctx.keys.put(old, 0)  # as if an old key-store backup had been restored
    plan = keys.reconcile(runtime.ctx, who, apply=False)
    assert (plan.shredded, plan.revived) == ([], [sid])
    assert runtime.ctx.keys.get(sid) is not None
    keys.reconcile(runtime.ctx, who, apply=True)
    assert runtime.ctx.keys.get(sid) is None
    assert keys.reconcile(runtime.ctx, who, apply=False).revived == []
