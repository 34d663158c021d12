"""The privacy center, part two: my data, corrections, consent and the guardian's answer."""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import Response

from tutela.domain.errors import Conflict, InvalidInput
from tutela.entrypoints.web_privacy import PREFIX, Center, FormData, deliver_mail, guarded, readable
from tutela.services import consent, portal


def words(center: Center) -> Any:
    """The notice's words (purpose names, legal bases, retention) in the page's language."""
    from tutela.notices.words import Words

    return Words(center.language)


def facts(center: Center) -> Any:
    from tutela.notices import build_facts

    return build_facts(center.ctx.declarations, base_url=center.ctx.public_url)  # type: ignore[arg-type]


def purpose_name(center: Center, key: str) -> str:
    return str(words(center).purpose(key))


# -- my data --------------------------------------------------------------------------------


def _data(center: Center) -> Response:
    assert center.session is not None
    view = portal.my_data(center.ctx, center.session)
    w, f = words(center), facts(center)
    held = {**dict.fromkeys(view.hashed, None), **view.fields}
    groups = []
    for purpose in f.purposes:
        items = [
            {"name": w.category(f.category(key)), "value": held[key], "hashed": held[key] is None}
            for key in purpose.categories
            if key in held
        ]
        if items:
            groups.append(
                {
                    "key": purpose.key,
                    "name": w.purpose(purpose.key),
                    "description": purpose.description,
                    "legal_basis": center._(
                        "%(basis)s: %(explained)s",
                        basis=w.legal_basis(purpose.legal_basis),
                        explained=w.legal_basis_explained(purpose.legal_basis),
                    ),
                    "kept": w.kept(purpose.retention),
                    "items": items,
                }
            )
    return center.page("privacy/data.html.j2", center._("My data"), groups=groups)


# -- corrections ----------------------------------------------------------------------------


def _correctable(center: Center) -> list[dict[str, Any]]:
    assert center.session is not None
    declarations = center.ctx.declarations
    view = portal.my_data(center.ctx, center.session)
    w, f = words(center), facts(center)
    fields = []
    for category in getattr(declarations, "categories", ()):
        if category.storage == "hash" or category.pseudonymous or category.key not in view.fields:
            continue
        fields.append(
            {
                "key": category.key,
                "name": w.category(f.category(category.key)),
                "value": view.fields[category.key],
                "immediate": category.correction == "immediate",
                "date": category.key == "user.demographic.date_of_birth",
            }
        )
    return fields


def _correct_form(center: Center, error: str | None = None, status: int = 200) -> Response:
    return center.page(
        "privacy/correct.html.j2",
        center._("Correct my data"),
        status=status,
        fields=_correctable(center),
        error=error,
    )


def _save_corrections(center: Center, form: FormData) -> Response:
    assert center.session is not None
    wanted = {f["key"]: form.one(f["key"], f["value"]) for f in _correctable(center)}
    try:
        done = portal.correct(center.ctx, center.session, wanted)
    except InvalidInput as exc:
        return _correct_form(center, readable(center, exc), status=422)
    except Conflict:
        center.visit.flash(
            center._(
                "A correction of yours is already waiting for review. It is listed under My "
                "requests; you can cancel it there and send a new one."
            ),
            "error",
        )
        return center.redirect(center.urls.requests)
    if not done.applied and done.request is None:
        center.visit.flash(center._("Nothing changed."), "info")
    if done.applied:
        center.visit.flash(center._("Your corrections were saved."))
    if done.request is not None:
        center.visit.flash(
            center._(
                "Some corrections are checked by our privacy team first; follow them under "
                "My requests."
            ),
            "info",
        )
    return center.redirect(center.urls.correct)


# -- consent --------------------------------------------------------------------------------


def _state_text(center: Center, entry: dict[str, Any]) -> str:
    reason = entry.get("reason")
    if reason == "consent":
        return center._("On: consent given")
    if reason == "separate_consent_required":
        return center._("Off: this purpose needs its own consent, not an Accept all")
    if reason == "guardian_consent_required":
        return center._("Off: a parent or guardian must agree first")
    if reason == "own_consent_required":
        return center._("Off: you are now of age; please decide yourself")
    if reason == "consent_stale":
        return center._("Off: our policy changed; please decide again")
    state = entry.get("state")
    if state == "refused":
        return center._("Off: you said no")
    if state == "withdrawn":
        return center._("Off: you withdrew your consent")
    return center._("Off: not decided")


def _consent_page(center: Center, gpc_refused: list[str] | None = None) -> Response:
    assert center.session is not None
    shown = portal.consent_state(center.ctx, center.session)
    declared = {p.key: p for p in getattr(center.ctx.declarations, "purposes", ())}
    w = words(center)
    purposes, others = [], []
    for entry in shown["purposes"]:
        key = entry["purpose"]
        purpose = declared.get(key)
        if entry["legal_basis"] != "consent":
            others.append({"name": w.purpose(key), "basis": w.legal_basis(entry["legal_basis"])})
            continue
        purposes.append(
            {
                "key": key,
                "name": w.purpose(key),
                "description": purpose.description if purpose else None,
                "granted": entry["state"] == "granted",
                "counts": bool(entry.get("allowed")),
                "state_text": _state_text(center, entry),
                "note": center._("Needs its own consent: Accept all does not count for it.")
                if entry.get("separate_consent")
                else None,
            }
        )
    minor = shown.get("minor_until")
    import datetime as dt

    today = dt.datetime.fromtimestamp(center.ctx.clock() / 1_000_000, tz=dt.UTC).date()
    minor_until = dt.date.fromisoformat(minor) if minor else None
    gpc = center.visit.request.headers.get("sec-gpc", "").strip() == "1"
    return center.page(
        "privacy/consent.html.j2",
        center._("Consent"),
        purposes=purposes,
        others=others,
        gpc=gpc,
        gpc_purposes=w.purposes(gpc_refused or []),
        minor_until=minor_until if minor_until and minor_until > today else None,
        minimum_age=center.ctx.minimum_age,
    )


def _save_consent(center: Center, form: FormData) -> Response:
    assert center.session is not None
    choice = form.one("choice", "save")
    request = center.visit.request
    shown = portal.consent_state(center.ctx, center.session)
    consent_purposes = [p["purpose"] for p in shown["purposes"] if p["legal_basis"] == "consent"]
    if choice == "accept_all":
        granted = consent_purposes
    elif choice == "reject_all":
        granted = []
    else:
        granted = [p for p in form.many("grant") if p in consent_purposes]
    minor = shown.get("minor_until")
    asked_guardian: list[str] = []
    if minor:
        import datetime as dt

        today = dt.datetime.fromtimestamp(center.ctx.clock() / 1_000_000, tz=dt.UTC).date()
        if dt.date.fromisoformat(minor) > today:
            states = {p["purpose"]: p["state"] for p in shown["purposes"]}
            asked_guardian = [p for p in granted if states.get(p) != "granted"]
            granted = [p for p in granted if p not in asked_guardian]
    done = portal.save_consent(
        center.ctx,
        center.session,
        granted,
        bundled=choice == "accept_all",
        language=center.language,
        evidence=consent.Evidence(
            request.headers.get("user-agent"), request.client.host if request.client else None
        ),
        gpc=request.headers.get("sec-gpc", "").strip() == "1",
    )
    center.visit.flash(center._("Your choices were saved. They apply from now on."))
    if asked_guardian:
        center.visit.flash(
            center._(
                "A parent or guardian must agree to %(purposes)s first: ask them below.",
                purposes=words(center).purposes(asked_guardian),
            ),
            "info",
        )
    if done["gpc"]:
        center.visit.flash(
            center._(
                "Your browser's Global Privacy Control signal turned off: %(purposes)s.",
                purposes=words(center).purposes(done["gpc"]),
            ),
            "info",
        )
    return center.redirect(center.urls.consent)


def _guardian_mail(center: Center) -> Any:
    organization = center.brand["organization"]

    def compose(token: str) -> tuple[str, str]:
        link = center.ctx.public_url + center.urls.guardian(token)
        return (
            center._("Your consent is asked for at %(organization)s", organization=organization),
            center._(
                "A young person who uses %(organization)s named you as their parent or "
                "guardian and asks for your consent. Open this link to see what they ask for "
                "and to decide; it works once, for 48 hours:",
                organization=organization,
            )
            + f"\n\n{link}\n\n"
            + center._("If you do not know what this is about, ignore this message.")
            + "\n",
        )

    return compose


def _ask_guardian(center: Center, form: FormData) -> Response:
    assert center.session is not None
    try:
        portal.ask_guardian(
            center.ctx,
            center.session,
            form.one("guardian_email"),
            form.many("purpose"),
            language=center.language,
            compose=_guardian_mail(center),
        )
    except InvalidInput as exc:
        center.visit.flash(readable(center, exc), "error")
        return center.redirect(center.urls.consent)
    center.background.append((deliver_mail, (center.ctx,)))
    center.visit.flash(center._("We sent the request to your parent or guardian."))
    return center.redirect(center.urls.consent)


def _guardian_page(center: Center, token: str) -> Response:
    asked = portal.guardian_request(center.ctx, center.tenant, token)
    declared = {p.key: p for p in getattr(center.ctx.declarations, "purposes", ())}
    w = words(center)
    purposes = [
        {
            "key": key,
            "name": w.purpose(key),
            "description": declared[key].description if key in declared else None,
        }
        for key in asked["purposes"]
    ]
    return center.page(
        "privacy/guardian.html.j2",
        center._("Consent for a young person"),
        purposes=purposes,
        action=center.urls.guardian(token),
        minimum_age=center.ctx.minimum_age,
    )


def _guardian_answer(center: Center, token: str, form: FormData) -> Response:
    request = center.visit.request
    granted = form.many("grant") if form.one("choice") == "save" else []
    done = portal.guardian_answer(
        center.ctx,
        center.tenant,
        token,
        granted,
        consent.Evidence(
            request.headers.get("user-agent"), request.client.host if request.client else None
        ),
    )
    if done:
        center.visit.flash(
            center._(
                "Thank you. You agreed to: %(purposes)s.", purposes=words(center).purposes(done)
            )
        )
    else:
        center.visit.flash(center._("Thank you. Nothing was agreed to."))
    return center.redirect(center.urls.home)


def install(app: FastAPI) -> None:
    """The routes of my data, corrections, consent and the guardian's answer."""

    @app.get(f"{PREFIX}/{{tenant}}/data", tags=["privacy center"], response_class=Response)
    def privacy_data(tenant: str, request: Request) -> Response:
        """Every category held about the subject, by purpose (decrypted for them; audited)."""
        return guarded(_data, request, tenant, signed_in=True)

    @app.get(f"{PREFIX}/{{tenant}}/correct", tags=["privacy center"], response_class=Response)
    def privacy_correct(tenant: str, request: Request) -> Response:
        """The fields the subject can correct."""
        return guarded(_correct_form, request, tenant, signed_in=True)

    @app.post(f"{PREFIX}/{{tenant}}/correct", tags=["privacy center"], response_class=Response)
    def privacy_save_corrections(tenant: str, request: Request, form: FormData) -> Response:
        """Correct at once where the declarations allow it; else a request for review."""
        return guarded(
            lambda c: _save_corrections(c, form), request, tenant, signed_in=True, form=form
        )

    @app.get(f"{PREFIX}/{{tenant}}/consent", tags=["privacy center"], response_class=Response)
    def privacy_consent(tenant: str, request: Request) -> Response:
        """One switch per consent-based purpose, nothing on until decided."""
        return guarded(_consent_page, request, tenant, signed_in=True)

    @app.post(f"{PREFIX}/{{tenant}}/consent", tags=["privacy center"], response_class=Response)
    def privacy_save_consent(tenant: str, request: Request, form: FormData) -> Response:
        """Accept all, reject all, or save the switches as set."""
        return guarded(lambda c: _save_consent(c, form), request, tenant, signed_in=True, form=form)

    @app.post(
        f"{PREFIX}/{{tenant}}/consent/guardian", tags=["privacy center"], response_class=Response
    )
    def privacy_ask_guardian(
        tenant: str, request: Request, form: FormData, background: BackgroundTasks
    ) -> Response:
        """A minor asks a parent or guardian to consent (a one-time link by mail)."""
        return guarded(
            lambda c: _ask_guardian(c, form),
            request,
            tenant,
            signed_in=True,
            form=form,
            background=background,
        )

    @app.get(
        f"{PREFIX}/{{tenant}}/guardian/{{token}}", tags=["privacy center"], response_class=Response
    )
    def privacy_guardian(tenant: str, token: str, request: Request) -> Response:
        """What a minor asks their guardian to consent to."""
        return guarded(lambda c: _guardian_page(c, token), request, tenant)

    @app.post(
        f"{PREFIX}/{{tenant}}/guardian/{{token}}", tags=["privacy center"], response_class=Response
    )
    def privacy_guardian_answer(
        tenant: str, token: str, request: Request, form: FormData
    ) -> Response:
        """The guardian's answer; the link is spent."""
        return guarded(lambda c: _guardian_answer(c, token, form), request, tenant, form=form)
