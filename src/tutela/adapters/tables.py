"""SQLAlchemy Core tables of the main database (migrations in ``adapters/migrations``).

Every row that concerns a data subject carries ``tenant_id`` first in its keys, so the schema
can be distributed by tenant on a PostgreSQL-compatible distributed engine. Times are integer
microseconds since the Unix epoch (UTC): compact, portable and exact for the audit chain.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("id", String(36), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("language", String(35), nullable=True),  # for notices; null: the default language
    Column("closed_at", BigInteger, nullable=True),  # when the account was closed
    Index("ix_subjects_tenant_order", "tenant_id", "created_at", "id"),
)

subject_fields = Table(
    "subject_fields",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), ForeignKey("subjects.id"), primary_key=True),
    Column("category", String(200), primary_key=True),
    # "e": AES-GCM ciphertext under the subject DEK; "h": argon2id hash (verify-only)
    Column("kind", String(1), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

subject_lookups = Table(
    "subject_lookups",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("kind", String(200), primary_key=True),
    Column("digest", LargeBinary(32), primary_key=True),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False),
    Index("ix_subject_lookups_subject", "subject_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("chain", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject_id", String(36), nullable=True),
    Column("fields", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Index("ix_audit_log_subject", "subject_id"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("chain", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    # HMAC under a key-ring key: a rewritten chain cannot be re-sealed without the ring
    Column("seal", LargeBinary(32), nullable=False),
)

declarations = Table(
    "declarations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("loaded_at", BigInteger, nullable=False),
    Column("source", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("document", Text, nullable=False),
    # a published policy version: its label, when it takes effect (null: when loaded), who
    # published it, whether it changes anything material, and when it was put in force
    Column("label", String(100), nullable=True),
    Column("effective_at", BigInteger, nullable=True),
    Column("published_by", String(200), nullable=True),
    Column("material", Boolean, nullable=True),
    Column("applied_at", BigInteger, nullable=True),
)

# -- consent ------------------------------------------------------------------------------

LedgerSeq = BigInteger().with_variant(Integer, "sqlite")  # SQLite: a rowid alias

consent_events = Table(
    "consent_events",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("id", String(36), nullable=False, unique=True),
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), ForeignKey("subjects.id"), nullable=False),
    Column("purpose", String(100), nullable=False),
    Column("action", String(10), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("by", String(10), nullable=False),
    Column("bundled", Boolean, nullable=False),
    Column("method", String(20), nullable=False),
    Column("jurisdiction", String(10), nullable=False),
    Column("language", String(20), nullable=False),
    Column("policy_version", Integer, nullable=True),
    Column("guardian_ref", LargeBinary(32), nullable=True),  # keyed hash of the guardian email
    Column("guardian_verified_by", String(100), nullable=True),
    Column("user_agent", String(500), nullable=True),
    Column("ip_hash", LargeBinary(32), nullable=True),  # keyed hash; the address is never stored
    Column("receipt", Text, nullable=True),  # the signed receipt (compact JWS)
    Index("ix_consent_events_subject", "tenant_id", "subject_id", "seq"),
)

consent_state = Table(
    "consent_state",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), ForeignKey("subjects.id"), primary_key=True),
    Column("purpose", String(100), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("by_subject", Boolean, nullable=False),
    Column("by_guardian", Boolean, nullable=False),
    Column("separate", Boolean, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("policy_version", Integer, nullable=True),
)

consent_subjects = Table(
    "consent_subjects",
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), ForeignKey("subjects.id"), primary_key=True),
    # set only for subjects registered as minors: the day they reach the minimum age
    Column("minor_until", Date, nullable=True),
    Column("restricted", Boolean, nullable=False),
    Column("objections", Text, nullable=False),  # comma-separated purpose keys
)

# every change that can alter a consent decision, so other processes refresh their caches
decision_changes = Table(
    "decision_changes",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), nullable=False),
    Column("at", BigInteger, nullable=False),
)

# follow-up work queued for the request engine and the worker (taken with SKIP LOCKED)
jobs = Table(
    "jobs",
    metadata,
    Column("id", LedgerSeq, primary_key=True, autoincrement=True),
    Column("kind", String(50), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), nullable=True),
    Column("payload", Text, nullable=False),
    Column("state", String(10), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("run_after", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Index("ix_jobs_state_run_after", "state", "run_after"),
)

# choices made in the cookie banner by a visitor not (yet) known as a subject; replayed into
# the consent ledger when the application links the visitor to a subject at login
visitor_choices = Table(
    "visitor_choices",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("visitor_id", String(64), nullable=False),
    Column("choices", Text, nullable=False),  # JSON: {purpose key: true | false}
    Column("gpc", Boolean, nullable=False),
    Column("method", String(20), nullable=False),
    Column("language", String(20), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("user_agent", String(500), nullable=True),
    Column("ip_hash", LargeBinary(32), nullable=True),
    Column("subject_id", String(36), nullable=True),  # set when linked at login
    Column("linked_at", BigInteger, nullable=True),
    Index("ix_visitor_choices_visitor", "tenant_id", "visitor_id", "seq"),
)

# -- data-subject requests ----------------------------------------------------------------

requests = Table(
    "requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("type", String(20), nullable=False),
    Column("state", String(12), nullable=False),
    Column("jurisdiction", String(10), nullable=False),
    Column("language", String(20), nullable=False),
    Column("identity_kind", String(10), nullable=False),
    Column("identity_digest", LargeBinary(32), nullable=False),  # blind index
    Column("identity_enc", LargeBinary, nullable=False),  # AES-GCM, bound to the request id
    Column("subject_id", String(36), nullable=True),
    Column("received_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),  # end of the due day, UTC
    Column("paused_days", Integer, nullable=False),
    Column("extended", Boolean, nullable=False),
    Column("extension_reason", Text, nullable=True),
    Column("rejection_reason", Text, nullable=True),
    Column("verifying_since", BigInteger, nullable=True),
    Column("verified_at", BigInteger, nullable=True),
    Column("verified_by", String(100), nullable=True),
    Column("details_enc", LargeBinary, nullable=True),  # e.g. corrected values, encrypted
    Column("result", Text, nullable=True),  # JSON summary without personal values
    Column("checkpoint", Text, nullable=True),  # JSON progress of a running request
    Column("attempts", Integer, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_requests_tenant_state_due", "tenant_id", "state", "due_at"),
    Index("ix_requests_identity", "tenant_id", "identity_kind", "identity_digest"),
)

request_events = Table(
    "request_events",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("from_state", String(12), nullable=True),
    Column("to_state", String(12), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("note", Text, nullable=False),  # shown to the subject: no personal values
    Index("ix_request_events_request", "request_id", "seq"),
)

verifications = Table(
    "verifications",
    metadata,
    Column("request_id", String(36), ForeignKey("requests.id"), primary_key=True),
    Column("code_hash", LargeBinary(32), nullable=False),  # keyed hash of the one-time code
    Column("expires_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("sent_at", BigInteger, nullable=False),
)

rate_events = Table(
    "rate_events",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("kind", String(30), nullable=False),
    Column("key_digest", LargeBinary(32), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_rate_events_key", "kind", "key_digest", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", LedgerSeq, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("message_enc", LargeBinary, nullable=False),  # recipient, subject, body: encrypted
    Column("state", String(10), nullable=False),  # queued | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("sent_at", BigInteger, nullable=True),
    Column("error", String(200), nullable=True),
    # the same key is never queued twice (e.g. one policy notice per subject and version)
    Column("idempotency_key", String(200), nullable=True),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),
    Index("ix_outbox_idempotency_key", "idempotency_key", unique=True),
)

packages = Table(
    "packages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("request_id", String(36), ForeignKey("requests.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("size", Integer, nullable=False),
    Column("content_enc", LargeBinary, nullable=False),  # the ZIP, AES-GCM encrypted
    Index("ix_packages_expires", "expires_at"),
)

# consent-based purposes whose consents given under older declarations must be renewed
consent_renewals = Table(
    "consent_renewals",
    metadata,
    Column("purpose", String(100), primary_key=True),
    Column("since_version", Integer, nullable=False),  # declarations version id
    Column("at", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
)

# periodic tasks of the worker: a row per task, claimed with SKIP LOCKED so that of several
# workers exactly one runs each slot
schedules = Table(
    "schedules",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("next_run_at", BigInteger, nullable=False),
    Column("last_run_at", BigInteger, nullable=True),
    Column("last_result", Text, nullable=True),
)

# legal holds: on a subject, a data category, or a whole tenant; they block deletion
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("subject_id", String(36), nullable=True),
    Column("category", String(200), nullable=True),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(200), nullable=False),
    Column("placed_at", BigInteger, nullable=False),
    Column("ends_on", Date, nullable=True),
    Column("released_at", BigInteger, nullable=True),
    Column("released_by", String(200), nullable=True),
    Index("ix_legal_holds_tenant", "tenant_id", "released_at"),
)

# retention periods a tenant's administrator chose at run time, for purposes whose retention
# the declarations make tenant-configurable (within their bounds); they override the
# declarations' tenants[].retention
tenant_retention = Table(
    "tenant_retention",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("purpose", String(100), primary_key=True),
    Column("keep", String(50), nullable=False),  # ISO 8601 duration
    Column("set_by", String(200), nullable=False),
    Column("set_at", BigInteger, nullable=False),
)

# the sunset of a tenant: started once, then resumed step by step until its signed report
sunsets = Table(
    "sunsets",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("started_at", BigInteger, nullable=False),
    Column("started_by", String(200), nullable=False),
    Column("steps", Text, nullable=False),  # JSON checkpoint: finished steps and their counts
    Column("finished_at", BigInteger, nullable=True),
    Column("report", Text, nullable=True),  # the final report, a compact JWS (counts only)
    Column("updated_at", BigInteger, nullable=False),
)

# what a sunset did to each subject and recipient, written as it happens so that a resumed
# sunset never tells a subject twice; details hold counts and error texts, never values
sunset_items = Table(
    "sunset_items",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("kind", String(20), primary_key=True),  # notice | recipient | erasure
    Column("item", String(200), primary_key=True),  # a subject id or a recipient's name
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("detail", Text, nullable=True),
    Column("at", BigInteger, nullable=False),
)

# a purpose that ended for one subject ("*": for every subject of the tenant); retention
# rules counted from ``purpose_ended`` start here
purpose_endings = Table(
    "purpose_endings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("subject_id", String(36), primary_key=True),
    Column("purpose", String(100), primary_key=True),
    Column("ended_at", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
)

# -- incidents (personal-data breaches) ---------------------------------------------------

# a breach: what happened, what it touched, the risk decision and which legal clocks were
# met when. Texts (summary, measures …) are the operator's, not subjects' data: stored
# plainly, never logged. Lists and maps are JSON.
incidents = Table(
    "incidents",
    metadata,
    Column("tenant_id", String(64), nullable=False),  # the tenant it was opened in
    Column("id", String(36), primary_key=True),
    Column("state", String(10), nullable=False),  # open | closed
    Column("summary", Text, nullable=False),
    Column("kinds", Text, nullable=False),  # confidentiality | integrity | availability
    Column("aware_at", BigInteger, nullable=False),
    Column("began_at", BigInteger, nullable=True),
    Column("tenants", Text, nullable=False),  # affected tenants
    Column("categories", Text, nullable=False),
    Column("datasets", Text, nullable=False),  # systems and datasets
    Column("approx_subjects", Integer, nullable=True),
    Column("approx_records", Integer, nullable=True),
    Column("encrypted", Boolean, nullable=False),  # encrypted, keys not compromised
    Column("consequences", Text, nullable=True),
    Column("measures", Text, nullable=False),
    Column("advice", Text, nullable=False),  # what subjects can do
    Column("assessment", Text, nullable=True),  # likelihood, severity, exemptions, reason
    Column("met", Text, nullable=False),  # clock -> when it was met
    Column("delay_reasons", Text, nullable=False),  # clock -> reasons for a late notice
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    Index("ix_incidents_tenant_state", "tenant_id", "state", "aware_at"),
)

# the timeline of an incident: every change, note, report and notice, in order
incident_events = Table(
    "incident_events",
    metadata,
    Column("seq", LedgerSeq, primary_key=True, autoincrement=True),
    Column("incident_id", String(36), ForeignKey("incidents.id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("note", Text, nullable=False),
    Column("details", Text, nullable=False),  # JSON: ids, counts, changed field names
    Index("ix_incident_events_incident", "incident_id", "seq"),
)

# which subject was told of which incident: a notice is queued once per incident and subject
incident_notices = Table(
    "incident_notices",
    metadata,
    Column("incident_id", String(36), ForeignKey("incidents.id"), primary_key=True),
    Column("tenant_id", String(64), primary_key=True),
    Column("subject_id", String(36), primary_key=True),
    Column("state", String(10), nullable=False),  # queued | no_email
    Column("language", String(35), nullable=False),
    Column("at", BigInteger, nullable=False),
)

# sessions of the web pages (privacy center, admin console) and their one-time links
# (a pending sign-in waiting for its code, a guardian's consent link): only a SHA-256 of
# each bearer token is kept, never the token itself
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("realm", String(20), nullable=False),  # privacy | admin | guardian
    Column("state", String(10), nullable=False),  # pending | active
    Column("account", String(200), nullable=True),  # e.g. the subject id
    Column("scopes", String(100), nullable=False),
    Column("identity_digest", LargeBinary(32), nullable=True),  # blind index of the address
    Column("code_hash", LargeBinary(32), nullable=True),  # keyed hash of a one-time code
    Column("attempts", Integer, nullable=False),
    Column("data", Text, nullable=True),  # JSON without personal values
    Column("secret_enc", LargeBinary, nullable=True),  # e.g. a guardian's address, encrypted
    Column("created_at", BigInteger, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_web_sessions_expires", "expires_at"),
    Index("ix_web_sessions_account", "tenant_id", "realm", "account"),
)
