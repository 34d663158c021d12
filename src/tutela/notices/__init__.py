"""The privacy notice a company publishes, generated from its declarations.

Build the facts once, then render them in any language Tutela writes::

    facts = build_facts(declarations, base_url="https://privacy.example.com")
    html = render(facts, "de", "html")

The notice states only what the declarations declare and Tutela enforces. The mail that
announces a policy change to data subjects is :func:`policy_change_message`.
"""

from tutela.notices.facts import NoticeFacts, build_facts
from tutela.notices.languages import choose_language, default_language, notice_languages
from tutela.notices.render import FORMATS, MEDIA_TYPES, NoticeFormat, render

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "NoticeFacts",
    "NoticeFormat",
    "build_facts",
    "choose_language",
    "default_language",
    "notice_languages",
    "render",
]
