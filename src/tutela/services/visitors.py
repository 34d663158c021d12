"""The cookie banner: its categories, the choices of anonymous visitors, and their replay.

A visitor is a browser the banner script gave a random id (128 bits, hex). What it chose is
kept in ``visitor_choices``, one row per choice, with the user agent and a keyed hash of the
address (never the address). When the application learns who the visitor is (at login), it
links the visitor to a subject: the visitor's latest choices are then recorded in the
subject's consent ledger, through :func:`tutela.services.consent.record`, so they get
receipts, audit entries and the decisions of every other consent.

Banner categories, from the purpose each declared cookie serves:

* ``strictly_necessary``: purposes not based on consent; shown as always on;
* ``functional``, ``analytics``: consent purposes whose data use starts with that word;
* ``marketing``: consent purposes using ``marketing``, ``third_party_sharing`` or
  ``personalize``;
* any other consent purpose (an ``essential.*`` one included: consent is never always on)
  is a category of its own, named by its key.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tutela.domain.access import Principal
from tutela.domain.audit import AuditEvent
from tutela.domain.consent import NO_CONSENT, gpc_purposes
from tutela.domain.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    SubjectErased,
)
from tutela.domain.subjects import ERASED, iso
from tutela.services import consent
from tutela.services.context import Context
from tutela.services.decisions import purpose_rules
from tutela.services.tenants import TENANT_ID

STRICTLY_NECESSARY = "strictly_necessary"
CATEGORY_ORDER = (STRICTLY_NECESSARY, "functional", "analytics", "marketing")
_CATEGORY_OF_USE = {
    "functional": "functional",
    "analytics": "analytics",
    "marketing": "marketing",
    "third_party_sharing": "marketing",
    "personalize": "marketing",
}
VISITOR_ID = re.compile(r"^[0-9a-f]{32}$")
VISITOR_METHODS = ("cookie_banner", "browser_signal")
HISTORY_LIMIT = 500  # rows of one visitor read back; older ones are outweighed anyway


# -- storage port -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VisitorChoice:
    """One row of ``visitor_choices``: what a visitor chose at one moment."""

    tenant_id: str
    visitor_id: str
    choices: Mapping[str, bool]
    gpc: bool
    method: str
    language: str
    at: int
    user_agent: str | None = None
    ip_hash: bytes | None = None
    subject_id: str | None = None
    linked_at: int | None = None
    seq: int = 0


class AbstractVisitorRepository(abc.ABC):
    @abc.abstractmethod
    def add(self, choice: VisitorChoice) -> int:
        """Store a choice; returns its sequence number."""

    @abc.abstractmethod
    def history(self, tenant_id: str, visitor_id: str, limit: int) -> list[VisitorChoice]:
        """The visitor's latest ``limit`` choices, oldest first."""

    @abc.abstractmethod
    def link(self, tenant_id: str, visitor_id: str, subject_id: str, up_to: int, now: int) -> int:
        """Mark the visitor's unlinked choices up to ``up_to`` as linked; returns how many."""


# -- banner categories --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BannerCategory:
    key: str
    always_on: bool
    purposes: tuple[Any, ...]  # declared Purpose models, in declaration order
    cookies: Mapping[str, tuple[Any, ...]]  # purpose key -> declared Cookie models


def _declarations(ctx: Context) -> Any:
    declarations = ctx.declarations
    if not hasattr(declarations, "purposes"):
        raise ConfigurationError(
            "no declarations are loaded; run `tutela init --declarations FILE` first"
        )
    return declarations


def _base_use(declarations: Any, use: str) -> str:
    """A data use with declared taxonomy extensions resolved to their fideslang parent."""
    taxonomy = declarations.taxonomy
    parents = {e.key: e.parent for e in taxonomy.uses} if taxonomy is not None else {}
    seen: set[str] = set()
    while use in parents and use not in seen:
        seen.add(use)
        use = str(parents[use])
    return use


def category_of(declarations: Any, purpose: Any) -> str:
    """The banner category of a declared purpose (see the module docstring)."""
    if purpose.legal_basis != "consent":
        return STRICTLY_NECESSARY
    top = _base_use(declarations, purpose.use).split(".", maxsplit=1)[0]
    return _CATEGORY_OF_USE.get(top) or str(purpose.key)


def banner_categories(declarations: Any) -> list[BannerCategory]:
    """The categories of the purposes that declared cookies serve, in banner order."""
    cookies: dict[str, list[Any]] = {}
    for cookie in declarations.cookies:
        cookies.setdefault(cookie.purpose, []).append(cookie)
    grouped: dict[str, list[Any]] = {}
    for purpose in declarations.purposes:
        if purpose.key in cookies:
            grouped.setdefault(category_of(declarations, purpose), []).append(purpose)

    def rank(key: str) -> int:
        return CATEGORY_ORDER.index(key) if key in CATEGORY_ORDER else len(CATEGORY_ORDER)

    return [
        BannerCategory(
            key,
            key == STRICTLY_NECESSARY,
            tuple(grouped[key]),
            {p.key: tuple(cookies[p.key]) for p in grouped[key]},
        )
        for key in sorted(grouped, key=rank)  # stable: others keep declaration order
    ]


def forced_by_gpc(declarations: Any) -> list[str]:
    """Consent purposes a Global Privacy Control signal refuses (sale, sharing, marketing)."""
    return gpc_purposes(purpose_rules(declarations))


# -- languages ----------------------------------------------------------------------------


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def match_language(declared: Sequence[str], wanted: Iterable[str | None]) -> str | None:
    """The first declared language matching a wanted tag, exactly or by its language."""
    by_tag = {tag.lower(): tag for tag in declared}
    by_lang: dict[str, str] = {}
    for tag in declared:
        by_lang.setdefault(tag.split("-", maxsplit=1)[0].lower(), tag)
    for raw in wanted:
        if not raw:
            continue
        tag = raw.strip().replace("_", "-").lower()
        found = by_tag.get(tag) or by_lang.get(tag.split("-", maxsplit=1)[0])
        if found is not None:
            return found
    return None


# -- the banner ---------------------------------------------------------------------------


def require_tenant(ctx: Context, tenant_id: str) -> None:
    """Public routes name a tenant in the URL: an unknown (or malformed) one is not found."""
    if TENANT_ID.match(tenant_id):
        with ctx.uow(read_only=True) as uow:
            if uow.tenants.get(tenant_id) is not None:
                return
    raise NotFound(f"no tenant {tenant_id!r}", details={"tenant": tenant_id[:64]})


def _lifetime(expires: str) -> dict[str, int] | None:
    if expires == "session":
        return None
    from tutela.declarations.durations import parse_duration

    duration = parse_duration(expires)
    parts = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")
    return {name: getattr(duration, name) for name in parts if getattr(duration, name)}


def banner(ctx: Context, tenant_id: str, wanted: Iterable[str | None]) -> dict[str, Any]:
    """What the banner shows, in the first declared language among ``wanted``."""
    declarations = _declarations(ctx)
    require_tenant(ctx, tenant_id)
    language = match_language(declarations.languages, wanted) or declarations.default_language
    gpc = set(forced_by_gpc(declarations))
    policy = declarations.policy
    categories = []
    for category in banner_categories(declarations):
        purposes = [
            {
                "key": p.key,
                "legal_basis": p.legal_basis,
                "description": p.description,
                "cookies": [
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "party": c.party,
                        "expires": c.expires,
                        "lifetime": _lifetime(c.expires),
                        "description": c.description,
                    }
                    for c in category.cookies[p.key]
                ],
            }
            for p in category.purposes
        ]
        keys = [p.key for p in category.purposes]
        categories.append(
            {
                "key": category.key,
                "always_on": category.always_on,
                "gpc": not category.always_on and all(k in gpc for k in keys),
                "purposes": purposes,
            }
        )
    return {
        "tenant": tenant_id,
        "organization": declarations.organization.name,
        "policy_url": (policy.url if policy else None) or declarations.organization.website,
        "policy_version": policy.version if policy else None,
        "language": language,
        "languages": list(declarations.languages),
        "gpc_purposes": sorted(gpc),
        "categories": categories,
    }


# -- a visitor's choice -------------------------------------------------------------------


def _check_visitor_id(visitor_id: str) -> None:
    if not VISITOR_ID.match(visitor_id):
        raise InvalidInput(
            "visitor_id must be 32 lowercase hex digits (128 random bits)",
            details={"field": "visitor_id"},
        )


def _check_choices(declarations: Any, choices: Mapping[str, bool]) -> None:
    problems: list[str] = []
    for key, value in choices.items():
        purpose = declarations.purpose(key)
        if purpose is None:
            problems.append(f"{key[:100]}: not a declared purpose")
        elif purpose.legal_basis != "consent":
            problems.append(f"{key}: based on {purpose.legal_basis}, not consent; not a choice")
        elif not isinstance(value, bool):
            problems.append(f"{key}: the choice must be true or false")
    if problems:
        raise InvalidInput("; ".join(problems), details={"problems": problems})


def record_choice(
    ctx: Context,
    tenant_id: str,
    visitor_id: str,
    choices: Mapping[str, bool],
    *,
    language: str | None = None,
    gpc: bool = False,
    method: str = "cookie_banner",
    evidence: consent.Evidence | None = None,
) -> dict[str, Any]:
    """Store what an anonymous visitor chose; a GPC signal refuses sale/sharing/marketing."""
    declarations = _declarations(ctx)
    require_tenant(ctx, tenant_id)
    _check_visitor_id(visitor_id)
    if method not in VISITOR_METHODS:
        raise InvalidInput(
            f"method must be one of {', '.join(VISITOR_METHODS)}", details={"field": "method"}
        )
    _check_choices(declarations, choices)
    if language is None:
        language = declarations.default_language
    else:
        found = match_language(declarations.languages, [language])
        if found is None or found.lower() != language.replace("_", "-").lower():
            raise InvalidInput(
                f"language {language[:20]!r} is not declared; use one of "
                f"{', '.join(declarations.languages)}",
                details={"field": "language"},
            )
        language = found
    stored = dict(choices)
    if gpc:
        stored.update(dict.fromkeys(forced_by_gpc(declarations), False))
    if not stored:
        raise InvalidInput("name at least one purpose in choices", details={"field": "choices"})
    evidence = evidence or consent.Evidence()
    row = VisitorChoice(
        tenant_id,
        visitor_id,
        dict(sorted(stored.items())),
        gpc,
        method,
        language,
        ctx.clock(),
        (evidence.user_agent or "")[:500] or None,
        ctx.crypto.index(tenant_id, "ip", evidence.ip) if evidence.ip else None,
    )
    with ctx.uow() as uow:
        uow.visitors.add(row)
        uow.commit()
    return choice_dict(row)


def choice_dict(row: VisitorChoice) -> dict[str, Any]:
    return {
        "visitor_id": row.visitor_id,
        "choices": dict(row.choices),
        "gpc": row.gpc,
        "method": row.method,
        "language": row.language,
        "at": iso(row.at),
    }


def encode_choices(choices: Mapping[str, bool]) -> str:
    return json.dumps(dict(sorted(choices.items())), separators=(",", ":"))


# -- linking a visitor to a subject -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Latest:
    value: bool
    at: int
    by_gpc: bool
    row: VisitorChoice


def _latest(rows: Sequence[VisitorChoice], gpc: set[str]) -> dict[str, _Latest]:
    latest: dict[str, _Latest] = {}
    for row in rows:
        for key, value in row.choices.items():
            latest[key] = _Latest(value, row.at, row.gpc and key in gpc and not value, row)
    return latest


def _plan(
    declarations: Any, latest: Mapping[str, _Latest], states: Mapping[str, Any]
) -> tuple[dict[tuple[str, str], list[str]], list[dict[str, str]]]:
    """(action, method) -> purposes to record, and what is skipped and why."""
    groups: dict[tuple[str, str], list[str]] = {}
    skipped: list[dict[str, str]] = []
    for key, item in sorted(latest.items()):
        purpose = declarations.purpose(key)
        if purpose is None or purpose.legal_basis != "consent":
            skipped.append({"purpose": key, "reason": "not_a_consent_purpose"})
            continue
        state = states.get(key, NO_CONSENT)
        if state.at > item.at:
            skipped.append({"purpose": key, "reason": "later_decision"})
            continue
        if item.value:
            action = None if state.status == "granted" else "grant"
        elif state.status == "granted":
            action = "withdraw"
        else:
            action = None if state.status in ("refused", "withdrawn") else "refuse"
        if action is None:
            continue
        method = "browser_signal" if item.by_gpc else "cookie_banner"
        groups.setdefault((action, method), []).append(key)
    return groups, skipped


def link(ctx: Context, who: Principal, visitor_id: str, subject_id: str) -> dict[str, Any]:
    """Record a visitor's latest banner choices for the subject it turned out to be.

    Only choices not linked before are replayed, and only where they change the subject's
    state and the subject decided nothing later. Refusals come first; grants by a minor
    (which need a guardian) are skipped. Linking again records nothing new.
    """
    who.require("subjects.write")
    declarations = _declarations(ctx)
    _check_visitor_id(visitor_id)
    tenant = who.tenant_id
    with ctx.uow(read_only=True) as uow:
        rows = uow.visitors.history(tenant, visitor_id, HISTORY_LIMIT)
        subject = uow.subjects.get(tenant, subject_id)
        states = uow.consent.states(tenant, subject_id) if subject is not None else {}
    if not rows:
        raise NotFound(f"no visitor {visitor_id} in this tenant", details={"visitor": visitor_id})
    if subject is None:
        raise NotFound(
            f"no subject {subject_id} in this tenant", details={"subject_id": subject_id}
        )
    if subject.status == ERASED:
        raise SubjectErased(f"subject {subject_id} was erased; no consent can be recorded")
    pending = [row for row in rows if row.subject_id is None]
    result: dict[str, Any] = {
        "visitor_id": visitor_id,
        "subject_id": subject_id,
        "replayed": False,
        "events": [],
        "skipped": [],
    }
    if not pending:
        if rows[-1].subject_id != subject_id:
            raise Conflict(
                "this visitor is already linked to another subject; its choices were not replayed",
                details={"visitor": visitor_id},
            )
        return result
    latest = {
        key: item
        for key, item in _latest(rows, set(forced_by_gpc(declarations))).items()
        if item.row.subject_id is None
    }
    groups, skipped = _plan(declarations, latest, states)
    last = pending[-1]
    language = match_language(declarations.languages, [last.language])
    evidence = consent.Evidence(user_agent=last.user_agent)
    granted = groups.get(("grant", "cookie_banner"), [])
    events: list[dict[str, Any]] = []
    for (action, method), purposes in sorted(groups.items(), key=lambda g: g[0][0] == "grant"):
        try:
            events += consent.record(
                ctx,
                who,
                subject_id,
                purposes,
                action,
                method=method,
                bundled=action == "grant" and len(granted) > 1,
                language=language,
                evidence=evidence,
            )
        except InvalidInput as exc:
            if exc.details.get("reason") != "guardian_consent_required":
                raise
            skipped += [{"purpose": p, "reason": "guardian_consent_required"} for p in purposes]
    with ctx.uow() as uow:
        count = uow.visitors.link(tenant, visitor_id, subject_id, last.seq, ctx.clock())
        uow.audit.append(
            AuditEvent(
                "consent.visitor_linked",
                who.actor,
                tenant,
                subject_id,
                (),
                {"choices": count, "events": len(events), "skipped": len(skipped)},
            ),
            ctx.clock(),
        )
        uow.commit()
    result.update(replayed=True, events=events, skipped=skipped)
    return result
