"""The admin console's words shown from Python: titles, navigation, flash messages,
readable errors and the names of request types, states and urgencies. The templates in
``templates/admin`` hold the rest. Both form the ``admin`` gettext domain; the shared
layout's words come from the ``web`` domain."""

from __future__ import annotations

from tutela.entrypoints.web_base import N_

SITE_NAME = N_("Admin console")

# -- navigation and titles --------------------------------------------------------------------

OVERVIEW = N_("Overview")
REQUESTS = N_("Requests")
INCIDENTS = N_("Incidents")
POLICY = N_("Policy versions")
AUDIT = N_("Audit log")
CONSENT = N_("Consent")
TENANTS = N_("Tenants")

SIGN_IN_TITLE = N_("Sign in to the admin console")
QUEUE_TITLE = N_("Request queue")
REQUEST_TITLE = N_("Request %(id)s")
INCIDENTS_TITLE = N_("Incidents and their legal clocks")
POLICY_TITLE = N_("Policy versions")
VERSION_TITLE = N_("Policy version %(version)s")
AUDIT_TITLE = N_("Audit log verification")
CONSENT_TITLE = N_("Consent statistics")
TENANTS_TITLE = N_("Choose a tenant")
BACK = N_("Back to the overview")

# -- flash messages ---------------------------------------------------------------------------

SIGNED_IN = N_("You are signed in.")
SIGNED_OUT = N_("You are signed out.")
PLEASE_SIGN_IN = N_("Please sign in to see this page.")
TENANT_CHOSEN = N_("You now work in tenant %(tenant)s.")
REVEALED = N_("The identity is shown below. This was recorded in the audit log.")
APPROVED = N_("The request was approved for execution. Run it to carry it out.")
REJECTED = N_("The request was rejected. The subject receives the reason by email.")
EXTENDED = N_("The deadline now is %(date)s. The subject receives the reason by email.")
COMPLETED = N_("The request was carried out and is completed.")
WAITING = N_(
    "The request is in progress: it waits for the application's endpoints. It completes on "
    "a later run."
)
VERIFIED = N_("The identity is recorded as verified (%(method)s).")
AUDIT_OK = N_("The audit log is intact.")
AUDIT_BROKEN = N_("The audit log failed the check. See the first problem below.")

# -- readable errors --------------------------------------------------------------------------

BAD_KEY = N_(
    "This API key is not valid: it is unknown, mistyped or revoked. Paste the whole key, "
    "starting with tut_."
)
APP_KEY = N_(
    "This key has only the app scope. Sign in with a key that has the dpo, admin or platform scope."
)
RATE_LIMITED = N_("Too many wrong keys were tried from this address. Try again in an hour.")
CSRF = N_(
    "This form has expired or your browser blocks cookies for this site. Reload the page and "
    "send the form again."
)
NOT_ALLOWED = N_(
    "Your key's scopes do not allow this page in this tenant. Sign in with a dpo or admin key "
    "of the tenant."
)
REQUEST_NOT_FOUND = N_("There is no request with this number in your tenant.")
VERSION_NOT_FOUND = N_("There is no policy version with this number.")
WRONG_STATE = N_(
    "This cannot be done while the request is in the state %(state)s. Reload the page to see "
    "what can be done now."
)
REASON_NEEDED = N_("Give the reason. The subject receives it by email.")
IDENTITY_REMOVED = N_(
    "This request no longer holds the identity it named: it was removed when the erasure was "
    "carried out."
)

# -- names ------------------------------------------------------------------------------------

TYPE_NAMES = {
    "access": N_("Access"),
    "portability": N_("Portability"),
    "rectification": N_("Rectification"),
    "erasure": N_("Erasure"),
    "restriction": N_("Restriction"),
    "lift_restriction": N_("Lifting a restriction"),
    "objection": N_("Objection"),
    "withdraw_consent": N_("Consent withdrawal"),
    "account_closure": N_("Account closure"),
}
STATE_NAMES = {
    "received": N_("Received"),
    "verifying": N_("Verifying identity"),
    "verified": N_("Verified"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
}
URGENCY_NAMES = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Due soon"),
    "on_time": N_("On time"),
    "closed": N_("Closed"),
}
CLOCK_STATUS_NAMES = {
    "overdue": N_("Overdue"),
    "due_soon": N_("Due soon"),
    "on_time": N_("On time"),
    "met": N_("Met"),
    "met_late": N_("Met late"),
    "not_required": N_("Not required"),
}
AUDIENCE_NAMES = {
    "authority": N_("Supervisory authority"),
    "subjects": N_("Affected people"),
}
POLICY_STATUS_NAMES = {
    "in_force": N_("In force"),
    "scheduled": N_("Scheduled"),
    "superseded": N_("Superseded"),
}
MAIL_STATE_NAMES = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "failed": N_("Failed"),
}
METHOD_NAMES = {
    "account_login": N_("Signed in to their account"),
    "id_document": N_("Identity document"),
    "in_person": N_("In person"),
    "signed_letter": N_("Signed letter"),
    "phone_call": N_("Phone call"),
    "existing_relationship": N_("Existing customer relationship"),
}
PROBLEM_NAMES = {
    "changed": N_("An entry was changed"),
    "deleted": N_("An entry was deleted"),
    "inserted": N_("An entry was inserted"),
    "reordered": N_("Entries were reordered"),
    "truncated": N_("The end of the chain was cut off"),
    "unsealed": N_("The chain's seal does not match"),
}
CHANGE_NAMES = {
    "added": N_("Added"),
    "removed": N_("Removed"),
    "changed": N_("Changed"),
}
INCIDENT_STATE_NAMES = {
    "open": N_("Open"),
    "closed": N_("Closed"),
}
RISK_NAMES = {
    "none": N_("No risk to people"),
    "risk": N_("A risk to people"),
    "high": N_("A high risk to people"),
}
