"""`audit verify` on a real database names the first entry that was tampered with."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from tutela.adapters.tables import audit_heads, audit_log
from tutela.bootstrap import Runtime
from tutela.services import audit, vault


def fill(rt: Runtime, n: int = 4) -> None:
    for i in range(n):
        vault.register(rt.ctx, rt.operator(), {"user.contact.email": f"u{i}@example.com"})


def problem(rt: Runtime) -> tuple[str, int, str]:
    result = audit.verify(rt.ctx, rt.operator())
    assert not result.ok
    first = result.problems[0]
    return first.chain, first.seq, first.kind


def test_untouched_chains_verify(runtime: Runtime) -> None:
    fill(runtime)
    result = audit.verify(runtime.ctx, runtime.operator())
    assert result.ok
    assert result.entries >= 5


def test_a_changed_entry(runtime: Runtime) -> None:
    fill(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(
            update(audit_log)
            .where(audit_log.c.chain == "default", audit_log.c.seq == 3)
            .values(actor="key:someone-else")
        )
    assert problem(runtime) == ("default", 3, "changed")


def test_a_deleted_entry(runtime: Runtime) -> None:
    fill(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.chain == "default", audit_log.c.seq == 2))
    assert problem(runtime) == ("default", 3, "deleted")


def test_a_deleted_tail(runtime: Runtime) -> None:
    fill(runtime)
    with runtime.engine.begin() as conn:
        last = conn.execute(select(audit_heads.c.seq).where(audit_heads.c.chain == "default"))
        seq = int(last.scalar_one())
        conn.execute(
            delete(audit_log).where(audit_log.c.chain == "default", audit_log.c.seq == seq)
        )
    assert problem(runtime) == ("default", seq, "truncated")


def test_an_inserted_entry(runtime: Runtime) -> None:
    fill(runtime)
    with runtime.engine.begin() as conn:
        rows = conn.execute(
            select(audit_log).where(audit_log.c.chain == "default").order_by(audit_log.c.seq)
        ).all()
        # shift entries 3.. up by one and slip a copy of #2 in as #3
        for row in reversed(rows[2:]):
            conn.execute(
                update(audit_log)
                .where(audit_log.c.chain == "default", audit_log.c.seq == row.seq)
                .values(seq=row.seq + 1)
            )
        forged = dict(rows[1]._mapping)
        forged["seq"] = 3
        conn.execute(insert(audit_log).values(**forged))
    chain, seq, kind = problem(runtime)
    assert (chain, seq) == ("default", 3)
    assert kind in ("changed", "inserted")


def test_reordered_entries(runtime: Runtime) -> None:
    fill(runtime)
    with runtime.engine.begin() as conn:
        for old, new in ((2, 1000), (3, 2), (1000, 3)):
            conn.execute(
                update(audit_log)
                .where(audit_log.c.chain == "default", audit_log.c.seq == old)
                .values(seq=new)
            )
    chain, seq, _kind = problem(runtime)
    assert (chain, seq) == ("default", 2)


def test_a_rewritten_chain_fails_the_keyed_seal(runtime: Runtime) -> None:
    from tutela.domain.audit import GENESIS, entry_hash

    fill(runtime)
    with runtime.engine.begin() as conn:
        # the attacker drops one entry and recomputes every hash and the head, but has no key
        conn.execute(delete(audit_log).where(audit_log.c.chain == "default", audit_log.c.seq == 2))
        rows = conn.execute(
            select(audit_log).where(audit_log.c.chain == "default").order_by(audit_log.c.seq)
        ).all()
        prev = GENESIS
        for new_seq, row in enumerate(rows, start=1):
            digest = entry_hash(
                "default",
                new_seq,
                row.at,
                row.actor,
                row.action,
                row.subject_id,
                row.fields,
                row.details,
                prev,
            )
            conn.execute(
                update(audit_log)
                .where(audit_log.c.chain == "default", audit_log.c.seq == row.seq)
                .values(seq=new_seq, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(
            update(audit_heads)
            .where(audit_heads.c.chain == "default")
            .values(seq=len(rows), hash=prev)
        )
    assert problem(runtime)[2] == "unsealed"
