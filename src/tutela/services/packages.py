"""Access and portability packages: a ZIP of everything found, encrypted at rest, fetched
through an expiring signed link, deleted after ``TUTELA_PACKAGE_DAYS``.

The ZIP holds ``data.json`` (machine-readable: by store and collection, each value with its
data categories), one CSV per collection, and ``summary.html``, a readable summary in the
subject's language.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import html
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from tutela.domain.errors import InvalidInput, NotFound
from tutela.domain.subjects import iso
from tutela.services.context import Context
from tutela.services.ports import AbstractUnitOfWork

DAY = 86400 * 1_000_000

#: one collection of found rows: store -> collection -> rows of {field: {value, categories}}
Found = Mapping[str, Mapping[str, Sequence[Mapping[str, Mapping[str, Any]]]]]

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your personal data",
        "intro": "This package holds every piece of "
        "personal data we found about you, as of {when}.",
        "store": "Store",
        "collection": "Collection",
        "rows": "Records",
        "field": "Field",
        "category": "Data category",
        "value": "Value",
        "files": "Files in this package: "
        "data.json (machine-readable), one CSV file per collection, and this summary.",
    },
    "de": {
        "title": "Ihre personenbezogenen Daten",
        "intro": "Dieses Paket enthält alle "
        "personenbezogenen Daten, die wir über Sie gefunden haben, Stand {when}.",
        "store": "Speicher",
        "collection": "Sammlung",
        "rows": "Datensätze",
        "field": "Feld",
        "category": "Datenkategorie",
        "value": "Wert",
        "files": "Dateien im Paket: "
        "data.json (maschinenlesbar), eine CSV-Datei je Sammlung und diese Übersicht.",
    },
    "ru": {
        "title": "Ваши персональные данные",
        "intro": "В этом пакете — все персональные "
        "данные о вас, которые мы нашли, по состоянию на {when}.",
        "store": "Хранилище",
        "collection": "Коллекция",
        "rows": "Записи",
        "field": "Поле",
        "category": "Категория данных",
        "value": "Значение",
        "files": "Файлы пакета: "
        "data.json (машиночитаемый), по одному CSV-файлу на коллекцию и эта сводка.",
    },
    "cs": {
        "title": "Vaše osobní údaje",
        "intro": "Tento balíček obsahuje všechny osobní "
        "údaje, které jsme o vás našli, ke dni {when}.",
        "store": "Úložiště",
        "collection": "Kolekce",
        "rows": "Záznamy",
        "field": "Pole",
        "category": "Kategorie údajů",
        "value": "Hodnota",
        "files": "Soubory v balíčku: "
        "data.json (strojově čitelný), jeden soubor CSV na kolekci a tento přehled.",
    },
    "sq": {
        "title": "Të dhënat tuaja personale",
        "intro": "Kjo paketë përmban të gjitha të dhënat personale që gjetëm për ju, më {when}.",
        "store": "Ruajtja",
        "collection": "Koleksioni",
        "rows": "Regjistrime",
        "field": "Fusha",
        "category": "Kategoria e të dhënave",
        "value": "Vlera",
        "files": "Skedarët në "
        "paketë: data.json (i lexueshëm nga makina), një skedar CSV për çdo koleksion "
        "dhe kjo përmbledhje.",
    },
    "zh": {
        "title": "您的个人信息",
        "intro": "本数据包包含截至 {when} 我们找到的关于您的全部个人信息。",
        "store": "存储",
        "collection": "数据集",
        "rows": "记录",
        "field": "字段",
        "category": "数据类别",
        "value": "值",
        "files": "数据包中的文件：data.json（机器可读）、每个数据集一个 CSV 文件，以及本摘要。",
    },
}


def texts(language: str) -> dict[str, str]:
    return TEXTS.get(language) or TEXTS.get(language.split("-", maxsplit=1)[0]) or TEXTS["en"]


#: the files a package can hold: data.json, one CSV per collection, summary.html
FORMATS = ("json", "csv", "html")


def build_zip(found: Found, language: str, now: int, formats: Sequence[str] = FORMATS) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if "json" in formats:
            archive.writestr(
                "data.json",
                json.dumps(
                    {"generated_at": iso(now), "stores": found},
                    indent=2,
                    ensure_ascii=False,
                    default=str,
                ),
            )
        if "csv" in formats:
            for store, collections in found.items():
                for collection, rows in collections.items():
                    archive.writestr(f"{store}/{collection}.csv", _csv(rows))
        if "html" in formats:
            every = all(f in formats for f in FORMATS)
            archive.writestr("summary.html", _summary(found, language, now, list_files=every))
    return buffer.getvalue()


def _covers(chosen: Sequence[str], category: str) -> bool:
    return any(category == c or category.startswith(c + ".") for c in chosen)


def only(found: Found, categories: Sequence[str]) -> dict[str, dict[str, list[Any]]]:
    """The values of these data categories (and the categories below them), nothing else."""
    kept: dict[str, dict[str, list[Any]]] = {}
    for store, collections in found.items():
        for collection, rows in collections.items():
            for row in rows:
                cells = {
                    name: cell
                    for name, cell in row.items()
                    if any(_covers(categories, c) for c in cell.get("categories", ()))
                }
                if cells:
                    kept.setdefault(store, {}).setdefault(collection, []).append(cells)
    return kept


def _csv(rows: Sequence[Mapping[str, Mapping[str, Any]]]) -> str:
    out = io.StringIO()
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row if n not in names)
    writer = csv.writer(out)
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(n) is None else row[n].get("value", "") for n in names])
    return out.getvalue()


def _summary(found: Found, language: str, now: int, *, list_files: bool = True) -> str:
    t = texts(language)
    parts = [
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        f"<title>{html.escape(t['title'])}</title><style>body{{font-family:sans-serif;"
        "max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;"
        "width:100%;margin-bottom:1.5rem}th,td{border:1px solid #999;padding:.3rem .5rem;"
        "text-align:left;vertical-align:top}</style></head><body>",
        f"<h1>{html.escape(t['title'])}</h1><p>{html.escape(t['intro'].format(when=iso(now)))}</p>",
        f"<p>{html.escape(t['files'])}</p>" if list_files else "",
    ]
    for store, collections in found.items():
        for collection, rows in collections.items():
            parts.append(
                f"<h2>{html.escape(t['store'])}: {html.escape(store)} — "
                f"{html.escape(t['collection'])}: {html.escape(collection)} "
                f"({len(rows)} {html.escape(t['rows'])})</h2>"
            )
            for row in rows:
                parts.append(
                    f"<table><tr><th>{html.escape(t['field'])}</th><th>"
                    f"{html.escape(t['category'])}</th><th>{html.escape(t['value'])}"
                    "</th></tr>"
                )
                for name, cell in row.items():
                    categories = ", ".join(cell.get("categories", ()))
                    parts.append(
                        f"<tr><td>{html.escape(name)}</td><td>{html.escape(categories)}"
                        f"</td><td>{html.escape(str(cell.get('value', '')))}</td></tr>"
                    )
                parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _aad(tenant_id: str, package_id: str) -> bytes:
    return f"tutela:package:{tenant_id}:{package_id}".encode()


def _token(ctx: Context, tenant_id: str, package_id: str, expires: int) -> str:
    key = ctx.crypto.index(tenant_id, "package-link", package_id)
    mac = hmac.new(key, f"{package_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def store(
    ctx: Context,
    uow: AbstractUnitOfWork,
    tenant_id: str,
    request_id: str,
    content: bytes,
    now: int,
) -> dict[str, Any]:
    """Encrypt and keep a package; returns its id and expiry."""
    package_id = ctx.new_id()
    expires = now + ctx.package_days * DAY
    blob = ctx.crypto.seal_blob("package", _aad(tenant_id, package_id), content)
    uow.requests.add_package(package_id, tenant_id, request_id, now, expires, blob, len(content))
    return {
        "package_id": package_id,
        "expires": expires,
        "expires_at": iso(expires),
        "size": len(content),
    }


def link(ctx: Context, tenant_id: str, package_id: str, expires: int) -> str:
    """The signed download link (derived, never stored: it is a bearer secret)."""
    token = _token(ctx, tenant_id, package_id, expires)
    return f"{ctx.public_url}/v1/packages/{tenant_id}/{package_id}?expires={expires}&token={token}"


def fetch(
    ctx: Context,
    tenant_id: str,
    package_id: str,
    *,
    expires: int | None = None,
    token: str | None = None,
) -> bytes:
    """The ZIP, for a valid unexpired link (or an operator, who passes no token)."""
    now = ctx.clock()
    if token is not None:
        if expires is None or not hmac.compare_digest(
            token, _token(ctx, tenant_id, package_id, expires)
        ):
            raise InvalidInput("this download link is not valid; use the link exactly as sent")
        if now > expires:
            raise NotFound(
                f"this download link expired on {iso(expires)}; ask for a new access package",
                details={"reason": "expired"},
            )
    with ctx.uow(read_only=True) as uow:
        found = uow.requests.package(tenant_id, package_id)
    if found is None or now > found[1]:
        raise NotFound(
            "this package no longer exists (packages are deleted after "
            f"{ctx.package_days} days); ask for a new one",
            details={"reason": "deleted"},
        )
    return ctx.crypto.open_blob("package", _aad(tenant_id, package_id), found[2])
