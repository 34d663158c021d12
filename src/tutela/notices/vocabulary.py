"""The words for the declared values: legal bases, retention events, roles, rights …

Each text is a gettext message of the ``notice`` domain, marked with :func:`N_` so the
catalog tests find it; :class:`tutela.notices.words.Words` translates it when used.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for translation without translating it here."""
    return message


LEGAL_BASES: dict[str, tuple[str, str]] = {
    "consent": (
        N_("Consent"),
        N_(
            "You agreed to it. You can withdraw your consent at any time; processing done "
            "before stays lawful."
        ),
    ),
    "contract": (
        N_("Contract"),
        N_(
            "Needed to provide the service you signed up for, or to take steps you asked "
            "for before signing up."
        ),
    ),
    "legal_obligation": (
        N_("Legal obligation"),
        N_("A law obliges us to process the data."),
    ),
    "vital_interests": (
        N_("Vital interests"),
        N_("Needed to protect your life or health, or someone else's."),
    ),
    "public_task": (
        N_("Public interest"),
        N_("Needed for a task carried out in the public interest."),
    ),
    "legitimate_interests": (
        N_("Legitimate interests"),
        N_(
            "Needed for our legitimate interests, which we have weighed against your "
            "interests and rights; you may object."
        ),
    ),
}

#: retention period counted from an event: (with a length, with a zero length)
RETENTION_EVENTS: dict[str, tuple[str, str]] = {
    "collected": (N_("%(duration)s after collection"), N_("not kept after collection")),
    "last_activity": (
        N_("%(duration)s after your last activity"),
        N_("until your last activity"),
    ),
    "account_closed": (
        N_("%(duration)s after the account is closed"),
        N_("until the account is closed"),
    ),
    "consent_withdrawn": (
        N_("%(duration)s after consent is withdrawn"),
        N_("until consent is withdrawn"),
    ),
    "purpose_ended": (
        N_("%(duration)s after the purpose ends"),
        N_("until the purpose ends"),
    ),
}

RETENTION_ACTIONS: dict[str, str] = {
    "delete": N_("deleted"),
    "anonymize": N_("anonymized"),
}

ROLES: dict[str, str] = {
    "processor": N_("processor, acts on our instructions"),
    "controller": N_("independent controller"),
    "third_party": N_("third party"),
    "sdk": N_("SDK built into our app"),
}

SAFEGUARDS: dict[str, str] = {
    "adequacy": N_("adequacy decision"),
    "standard_contract": N_("standard contractual clauses"),
    "binding_corporate_rules": N_("binding corporate rules"),
    "certification": N_("certification"),
    "consent": N_("your explicit consent"),
    "derogation": N_("derogation for a specific situation"),
}

COOKIE_KINDS: dict[str, str] = {
    "cookie": N_("cookie"),
    "token": N_("token"),
    "local_storage": N_("local storage"),
}

PARTIES: dict[str, str] = {
    "first": N_("us (first party)"),
    "third": N_("a third party"),
}

SESSION = N_("until the end of the session")

#: short name and full name of each law
LAWS: dict[str, tuple[str, str]] = {
    "gdpr": (N_("GDPR"), N_("General Data Protection Regulation of the European Union (GDPR)")),
    "ccpa": (N_("CCPA"), N_("California Consumer Privacy Act (CCPA)")),
    "lgpd": (N_("LGPD"), N_("Brazilian General Data Protection Law (LGPD)")),
    "pipl": (
        N_("PIPL"),
        N_("Personal Information Protection Law of the People's Republic of China (PIPL)"),
    ),
}

RIGHTS: dict[str, tuple[str, str]] = {
    "access": (
        N_("Access"),
        N_("Get a copy of your personal data and learn how we process it."),
    ),
    "portability": (
        N_("Data portability"),
        N_(
            "Receive the data you gave us in a structured, machine-readable format, to take "
            "it elsewhere."
        ),
    ),
    "rectification": (
        N_("Correction"),
        N_("Have inaccurate data corrected and incomplete data completed."),
    ),
    "erasure": (
        N_("Erasure"),
        N_("Have your personal data deleted, unless a law obliges us to keep it."),
    ),
    "restriction": (
        N_("Restriction"),
        N_(
            "Have the processing restricted, for example while the accuracy of the data is checked."
        ),
    ),
    "objection": (
        N_("Objection"),
        N_("Object to processing based on our legitimate interests, and to direct marketing."),
    ),
    "opt_out": (
        N_("Opt out of sale and sharing"),
        N_(
            "Tell us not to sell or share your personal information; we also honour the "
            "Global Privacy Control signal of your browser."
        ),
    ),
    "limit_sensitive": (
        N_("Limit the use of sensitive data"),
        N_("Limit the use of your sensitive personal information to what the service needs."),
    ),
    "withdraw_consent": (
        N_("Withdraw consent"),
        N_(
            "Withdraw a consent at any time, as easily as you gave it; processing done before "
            "stays lawful."
        ),
    ),
    "account_closure": (
        N_("Close your account"),
        N_("Close your account; its data is then deleted or anonymized as described above."),
    ),
    "explanation": (
        N_("Explanation"),
        N_("Ask us to explain the rules by which we process your personal information."),
    ),
    "non_discrimination": (
        N_("No discrimination"),
        N_(
            "Exercising your rights never costs you a service, a better price or a better "
            "quality of service."
        ),
    ),
    "complaint": (
        N_("Complaint"),
        N_(
            "Complain to a data protection supervisory authority, in particular where you "
            "live or work."
        ),
    ),
}

SECURITY_MEASURES: dict[str, str] = {
    "field_encryption": N_(
        "Your personal data is encrypted field by field (AES-256-GCM) under a key that "
        "belongs to you alone; a value copied elsewhere cannot be read."
    ),
    "key_store": N_(
        "These keys are themselves encrypted, kept apart from the data and its backups, and "
        "can be replaced without interrupting the service."
    ),
    "crypto_shredding": N_(
        "When your data is erased, its key is destroyed (crypto-shredding): every remaining "
        "copy, backups included, becomes unreadable."
    ),
    "hashed_secrets": N_(
        "Passwords are stored only as argon2id hashes: they can be checked but never read back."
    ),
    "blind_index": N_(
        "We find your record by a keyed fingerprint of your email address or phone number, "
        "so a search never decrypts anyone's data."
    ),
    "pseudonymous_apart": N_(
        "Pseudonymous data is kept apart from the data that identifies you and never "
        "combined with it."
    ),
    "tenant_isolation": N_(
        "The data of each enterprise customer is kept apart under keys of its own; no "
        "customer can reach another customer's data."
    ),
    "access_control": N_(
        "Access is restricted by role: each person and each application may do only what "
        "its role allows."
    ),
    "audit_log": N_(
        "Every reading and every change of personal data is recorded in a tamper-evident "
        "audit log whose integrity can be verified at any time."
    ),
}

BREACH_RULES: dict[str, str] = {
    "gdpr": N_(
        "Under the GDPR, we report a breach to the supervisory authority within 72 hours of "
        "becoming aware of it, unless it is unlikely to put you at risk, and we tell you "
        "without undue delay when it is likely to put you at high risk."
    ),
    "ccpa": N_(
        "Under California law, we tell you within 30 calendar days of discovering it if your "
        "unencrypted personal information was acquired by an unauthorized person, and we also "
        "inform the Attorney General when more than 500 California residents are concerned."
    ),
    "lgpd": N_(
        "Under the LGPD, we report an incident that may cause you relevant risk or harm to "
        "the national data protection authority (ANPD) and to you within three working days."
    ),
    "pipl": N_(
        "Under the PIPL, we take remedial measures at once and notify the authorities "
        "responsible for personal information protection and you."
    ),
}

PROTECTION: dict[str, str] = {
    "encrypted": N_("encrypted"),
    "hashed": N_("hashed (can be checked, never read back)"),
    "sensitive": N_("sensitive"),
    "separate_consent": N_("needs your separate consent"),
    "pseudonymous": N_("pseudonymous, kept apart from your identity"),
    "tenant": N_("controlled by the enterprise customer"),
}

RESPONSE_EXTENSION = N_("%(period)s, extendable by %(extension)s where necessary, with reasons")
TENANT_BOUNDS = N_(
    "Enterprise customers may set their own period, from %(minimum)s to %(maximum)s."
)
NO_RETENTION = N_("as long as the purpose requires")
KEPT = N_("%(period)s, then %(action)s")
