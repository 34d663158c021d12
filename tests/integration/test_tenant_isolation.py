"""Property: one tenant's key never reads, finds, lists or changes another tenant's subjects.

Random sequences of operations by keys of two tenants run against a real database; a model
of who registered what says what each key must see.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutela.bootstrap import Runtime
from tutela.domain.access import Principal
from tutela.domain.errors import NotFound, SubjectErased
from tutela.services import tenants, vault

TENANTS = ("acme", "globex")
EMAIL = "user.contact.email"


@dataclass
class Model:
    owned: dict[str, dict[str, str]] = field(default_factory=lambda: {t: {} for t in TENANTS})
    erased: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)  # email removed by a correction
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def all_ids(self) -> list[tuple[str, str, str]]:
        return [(t, e, s) for t, m in self.owned.items() for e, s in m.items()]


RUNS = itertools.count()
ACTIONS: dict[str, Callable[[Runtime, Principal, str], object]] = {
    "read": lambda rt, key, sid: vault.read(rt.ctx, key, sid),
    "update": lambda rt, key, sid: vault.update(rt.ctx, key, sid, {EMAIL: None}),
    "erase": lambda rt, key, sid: vault.erase(rt.ctx, key, sid, "test"),
}


def principals(rt: Runtime) -> dict[str, Principal]:
    """Keys of two brand-new tenants, so every example starts from a known state."""
    platform = rt.operator()
    run = next(RUNS)
    found: dict[str, Principal] = {}
    for tenant in TENANTS:
        tenants.create_tenant(rt.ctx, platform, f"{tenant}-{run}", tenant.title())
        issued = tenants.issue_key(rt.ctx, platform, f"{tenant}-{run}", "test", ["dpo"])
        found[tenant] = tenants.authenticate(rt.ctx, issued.token)
    return found


operation = st.tuples(
    st.sampled_from(["register", "register_same", "read", "find", "update", "erase", "list"]),
    st.sampled_from(TENANTS),
    st.integers(min_value=0, max_value=50),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_tenants_never_see_each_other(runtime: Runtime, ops: list[tuple[str, str, int]]) -> None:
    run(runtime, ops)


def run(runtime: Runtime, ops: list[tuple[str, str, int]]) -> None:
    who = principals(runtime)
    model = Model()
    for name, tenant, pick in ops:
        key = who[tenant]
        other = TENANTS[1 - TENANTS.index(tenant)]
        everything = model.all_ids()
        if name == "register":
            email = f"p{next(model.counter)}@example.com"
            model.owned[tenant][email] = vault.register(runtime.ctx, key, {EMAIL: email}).id
        elif name == "register_same" and model.owned[other]:
            # the same email in another tenant is a different subject, never a conflict
            emails = sorted(set(model.owned[other]) - set(model.owned[tenant]))
            if emails:
                email = emails[pick % len(emails)]
                sid = vault.register(runtime.ctx, key, {EMAIL: email}).id
                assert sid != model.owned[other][email]
                model.owned[tenant][email] = sid
        elif name in ("read", "update", "erase") and everything:
            owner, _email, sid = everything[pick % len(everything)]
            act = functools.partial(ACTIONS[name], runtime, key, sid)
            if owner != tenant:
                with pytest.raises(NotFound):
                    act()
            elif sid in model.erased and name == "update":
                with pytest.raises(SubjectErased):
                    act()
            else:
                act()
                if name == "erase":
                    model.erased.add(sid)
                elif name == "update":
                    model.removed.add(sid)
        elif name == "find" and everything:
            owner, email, sid = everything[pick % len(everything)]
            mine = model.owned[tenant].get(email)
            if mine is None or mine in model.erased or mine in model.removed:
                with pytest.raises(NotFound):
                    vault.find(runtime.ctx, key, "email", email)
            else:
                assert vault.find(runtime.ctx, key, "email", email).id == mine
        elif name == "list":
            page = vault.list_page(runtime.ctx, key, None, 1000)
            listed = {str(item["id"]) for item in page.items}
            assert listed == set(model.owned[tenant].values())
            assert all(item["tenant"] == key.tenant_id for item in page.items)
