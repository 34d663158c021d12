"""The audit chain verifier names the first entry changed, deleted, inserted or reordered."""

from __future__ import annotations

import dataclasses

from tutela.domain.audit import GENESIS, ChainVerifier, entry_hash


def build(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        fields = "user.contact.email"
        digest = entry_hash("t", seq, 1000 + seq, "key:a", "subject.read", "s1", fields, "{}", prev)
        rows.append([seq, 1000 + seq, "key:a", "subject.read", "s1", fields, "{}", prev, digest])
        prev = digest
    return rows


def walk(rows: list[list[object]], head: tuple[int, bytes] | None = None) -> ChainVerifier:
    verifier = ChainVerifier("t")
    for row in rows:
        if not verifier.feed(row):
            break
    if head is None:
        last = rows[-1] if rows else None
        head = (int(last[0]), last[8]) if last else (0, GENESIS)  # type: ignore[arg-type]
    verifier.finish(head[0], head[1], sealed=True)
    return verifier


def test_an_intact_chain_verifies() -> None:
    verifier = walk(build(5))
    assert verifier.problem is None
    assert verifier.count == 5


def test_a_changed_entry_is_named() -> None:
    rows = build(5)
    rows[2][3] = "subject.erase"
    problem = walk(rows).problem
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "changed")


def test_a_deleted_entry_is_named() -> None:
    rows = build(5)
    del rows[1]
    problem = walk(rows, head=(5, build(5)[4][8])).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.seq, problem.kind) == (3, "deleted")


def test_reordered_entries_are_named() -> None:
    rows = build(5)
    rows[1], rows[2] = rows[2], rows[1]
    problem = walk(rows).problem
    assert problem is not None
    assert problem.kind == "deleted" or problem.kind == "reordered"
    assert problem.seq in (2, 3)


def test_an_inserted_entry_with_recomputed_hash_is_named() -> None:
    rows = build(5)
    # an attacker inserts a forged entry as #3 and renumbers the rest, recomputing hashes
    forged = build(5)
    forged[2][3] = "subject.create"
    forged[2][8] = entry_hash(
        "t", 3, 1003, "key:a", "subject.create", "s1", "user.contact.email", "{}", forged[2][7]
    )  # type: ignore[arg-type]
    problem = walk([*rows[:2], forged[2], *rows[3:]]).problem
    assert problem is not None
    assert problem.seq == 4
    assert problem.kind == "inserted"


def test_deleting_the_tail_is_caught_by_the_sealed_head() -> None:
    full = build(5)
    problem = walk(full[:3], head=(5, full[4][8])).problem  # type: ignore[arg-type]
    assert problem is not None
    assert (problem.seq, problem.kind) == (4, "truncated")


def test_a_rewritten_head_without_the_key_is_caught() -> None:
    rows = build(3)
    verifier = ChainVerifier("t")
    for row in rows:
        verifier.feed(row)
    verifier.finish(3, rows[2][8], sealed=False)  # type: ignore[arg-type]
    assert verifier.problem is not None
    assert verifier.problem.kind == "unsealed"
    assert dataclasses.asdict(verifier.problem)["chain"] == "t"
