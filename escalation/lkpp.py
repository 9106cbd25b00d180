"""What an escalation to LKPP says (DESIGN.md §6): the LPSE Support fields, the templated email, LKPP's numbers.

- ``lkpp_fields``: the fields of the LPSE Support (TTS) form — judul, LPSE, aplikasi, kode error, kode
  tender/paket, tipe, deskripsi (with the requester's identity and the steps already tried), lampiran — plus what
  the email template needs besides (our reference, SPSE version, the description alone, the reason...). Plain
  values only: the same dict is stored on the escalation, shown on the TTS page and posted to a gateway.
- ``render_email``: subject and body from the admin's Jinja2 templates (settings ``lkpp.email_subject_template``
  and ``lkpp.email_body_template``) or the shipped ``templates/mail/lkpp-escalation/``. The templates run in a
  sandbox with strict undefined variables, and see plain data only (no database objects). Any error is a
  ``LkppTemplateError`` with Jinja's message, raised before anything is written.
- ``ticket_number_error`` / ``find_ticket_numbers``: LKPP's ticket numbers, by the regular expression of setting
  ``lkpp.ticket_number_pattern``.
- ``is_lkpp_address``: whether an address is LKPP's (setting ``lkpp.addresses``: addresses or domains).

Everything LKPP reads is in Indonesian, whatever language the officer's screen is in.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Final

import jinja2
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from jinja2.sandbox import SandboxedEnvironment

from helpdesk import TEMPLATES_DIR, settings
from helpdesk.errors import ValidationError
from helpdesk.formatting import local_datetime

# The LPSE Support form, in its order: field key -> label as LPSE Support shows it.
FIELDS: Final = {
    "judul": "Judul",
    "lpse": "LPSE",
    "aplikasi": "Aplikasi",
    "kode_error": "Kode error",
    "kode_tender": "Kode tender / kode paket katalog",
    "tipe": "Tipe tiket",
    "deskripsi": "Deskripsi",
    "lampiran": "Lampiran",
}
APPLICATION_NAMES: Final = {"spse": "SPSE", "sikap": "SIKaP", "sirup": "SiRUP", "ekatalog": "e-Katalog",
                            "other": "Lainnya"}
TICKET_TYPE_NAMES: Final = {"problem": "Permasalahan", "request": "Permintaan Layanan", "proposal": "Usulan"}
SPSE_ROLE_NAMES: Final = {"penyedia": "Penyedia", "ppk": "PPK", "pokja": "Pokja Pemilihan", "pp": "Pejabat Pengadaan",
                          "pa_kpa": "PA/KPA", "auditor": "Auditor", "publik": "Masyarakat umum",
                          "lainnya": "Lainnya"}
DEFAULT_TEMPLATE_DIR: Final = TEMPLATES_DIR / "mail" / "lkpp-escalation"
TEMPLATE_MAX: Final = 20000
# The variables an admin's template may use, for the editor page.
TEMPLATE_VARIABLES: Final = (
    "ref", "judul", "lpse", "aplikasi", "versi_spse", "kode_error", "kode_tender", "tipe", "deskripsi",
    "uraian", "alasan", "langkah_dicoba", "identitas", "lampiran", "pelapor", "tiket", "kantor", "petugas",
)


class LkppTemplateError(ValidationError):
    """The LKPP email template does not render; the message is Jinja's, with the line."""


@dataclass(frozen=True)
class EscalationText:
    """What the officer adds to the ticket for LKPP: why it goes up, what was tried, which files go along."""

    reason: str = ""
    steps_tried: str = ""
    attachment_names: Sequence[str] = field(default_factory=tuple)
    officer_name: str = ""
    officer_email: str = ""


# -- the fields --------------------------------------------------------------------------------------------------

def lkpp_fields(ticket: Any, text: EscalationText | Any) -> dict[str, Any]:
    """The LPSE Support fields of ``ticket`` and what the email template needs besides, as plain values.

    ``text`` is an ``EscalationText`` or an escalation already recorded (its reason, steps tried and attachment
    names are read from it).
    """
    if not isinstance(text, EscalationText):
        content = text.content or {}
        text = EscalationText(reason=text.reason or "", steps_tried=content.get("steps_tried", ""),
                              attachment_names=tuple(content.get("attachment_names", ())),
                              officer_name=text.created_by.name if text.created_by else "",
                              officer_email=text.created_by.email if text.created_by else "")
    requester, office = ticket.requester, ticket.office
    with force_locale("id"):
        received = local_datetime(ticket.received_at, office.timezone)
    role, organisation = requester.spse_role or "", requester.organization or ""
    person = {
        "nama": requester.name, "peran": SPSE_ROLE_NAMES.get(role, ""), "organisasi": organisation,
        "perusahaan": organisation if role == "penyedia" else "",
        "instansi": organisation if role and role != "penyedia" else "",
        "npwp": requester.npwp or "", "user_id": requester.spse_user_id or "", "email": requester.email or "",
        "telepon": requester.phone or "", "alamat": requester.address or "",
    }
    identity = identity_block(person)
    steps = (text.steps_tried or "").strip()
    reason = (text.reason or "").strip()
    description = (ticket.description or "").strip() or ticket.subject
    version = ticket.spse_version or ""
    details = [description, "", "Identitas pelapor:", identity, "", "Langkah yang sudah dicoba:", steps or "-"]
    if reason:
        details += ["", "Alasan eskalasi:", reason]
    details += ["", f"Versi SPSE: {version or '-'}", f"Nomor tiket {office.name}: {ticket.ref} (diterima {received})"]
    who = organisation or person["peran"]
    names = [str(name) for name in text.attachment_names]
    return {
        "judul": f"{who} - {ticket.subject}" if who else ticket.subject,
        "lpse": office.name,
        "aplikasi": APPLICATION_NAMES.get(ticket.application or "", "SPSE"),
        "kode_error": ticket.error_code or "",
        "kode_tender": ticket.tender_code or "",
        "tipe": TICKET_TYPE_NAMES.get(ticket.ticket_type or "", TICKET_TYPE_NAMES["problem"]),
        "deskripsi": "\n".join(details),
        "lampiran": names,
        # Beyond the form: for the email template and the record.
        "ref": ticket.ref,
        "versi_spse": version,
        "uraian": description,
        "alasan": reason,
        "langkah_dicoba": steps,
        "identitas": identity,
        "pelapor": person,
        "tiket": {"nomor": ticket.ref, "perihal": ticket.subject, "diterima": received, "kanal": ticket.channel},
        "kantor": {"nama": office.name, "email": office.email or "", "telepon": office.phone or ""},
        "petugas": {"nama": text.officer_name, "email": text.officer_email},
    }


def form_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    """The LPSE Support form's fields alone, as text (lampiran: one file name a line)."""
    result = {}
    for key in FIELDS:
        value = fields.get(key, "")
        result[key] = "\n".join(value) if isinstance(value, (list, tuple)) else str(value or "")
    return result


def identity_block(person: Mapping[str, str]) -> str:
    """The requester's identity as LKPP asks for it: one ``Label: value`` line per known item (a supplier's
    company, another user's agency; either, when the requester's role is not known)."""
    organisation = (("perusahaan", "Perusahaan") if person.get("perusahaan") else
                    ("instansi", "Instansi") if person.get("instansi") else ("organisasi", "Perusahaan/Instansi"))
    labels = (("nama", "Nama"), ("peran", "Peran"), organisation, ("npwp", "NPWP"), ("user_id", "User ID SPSE"),
              ("email", "Email"), ("telepon", "Telepon"), ("alamat", "Alamat"))
    return "\n".join(f"{label}: {person[key]}" for key, label in labels if person.get(key))


# -- the email ---------------------------------------------------------------------------------------------------

def default_templates() -> tuple[str, str]:
    """The shipped subject and body templates (templates/mail/lkpp-escalation/)."""
    return ((DEFAULT_TEMPLATE_DIR / "subject.txt").read_text(encoding="utf-8"),
            (DEFAULT_TEMPLATE_DIR / "body.txt").read_text(encoding="utf-8"))


def current_templates() -> tuple[str, str]:
    """The admin's subject and body templates, each falling back to the shipped one when empty."""
    shipped_subject, shipped_body = default_templates()
    subject = settings.get_setting("lkpp.email_subject_template") or ""
    body = settings.get_setting("lkpp.email_body_template") or ""
    return (subject if subject.strip() else shipped_subject, body if body.strip() else shipped_body)


def render_email(ticket: Any, fields: Mapping[str, Any], *, subject_template: str | None = None,
                 body_template: str | None = None) -> tuple[str, str]:
    """Subject (one line, always carrying ``[#REF]``) and body of the email to LKPP; LkppTemplateError if a
    template fails. Templates default to the current ones (``current_templates``)."""
    if subject_template is None or body_template is None:
        current_subject, current_body = current_templates()
        subject_template = current_subject if subject_template is None else subject_template
        body_template = current_body if body_template is None else body_template
    context = dict(fields)
    subject = " ".join(_render("subject", subject_template, context).split())
    body = _render("body", body_template, context).strip("\n") + "\n"
    tag = f"[#{ticket.ref}]"
    if tag not in subject:  # LKPP's reply must thread back, whatever the admin's template says
        subject = f"{tag} {subject}".strip()
    if not body.strip():
        raise LkppTemplateError(_l("The LKPP email template renders an empty body."))
    return subject[:300], body


def validate_template(subject: str, body: str) -> tuple[str, str]:
    """Render ``subject`` and ``body`` against a sample ticket: the rendered pair, or LkppTemplateError."""
    for template in (subject, body):
        if len(template) > TEMPLATE_MAX:
            raise LkppTemplateError(_l("A template may have at most %(n)d characters.", n=TEMPLATE_MAX))
    ticket = sample_ticket()
    text = EscalationText(reason="Perlu pengecekan server SPSE oleh LKPP.", steps_tried="Cache peramban dibersihkan.",
                          attachment_names=("tangkapan-layar.png",), officer_name="Petugas Helpdesk",
                          officer_email="helpdesk@lpse.example.go.id")
    return render_email(ticket, lkpp_fields(ticket, text), subject_template=subject or default_templates()[0],
                        body_template=body or default_templates()[1])


def sample_ticket() -> SimpleNamespace:
    """A made-up ticket with every field filled, for validating and previewing templates."""
    office = SimpleNamespace(name="LPSE Kabupaten Contoh", timezone="Asia/Jakarta", email="helpdesk@lpse.example.go.id",
                             phone="0211234567")
    requester = SimpleNamespace(name="Budi Santoso", spse_role="penyedia", organization="CV Maju Jaya",
                                npwp="01.234.567.8-901.000", spse_user_id="cvmajujaya", email="budi@example.co.id",
                                phone="+6281234567890", address="Jl. Merdeka 1")
    return SimpleNamespace(ref="LPSE-2026-000123", subject="Tidak bisa unggah dokumen penawaran",
                           description="Saat unggah dokumen penawaran muncul pesan galat.", channel="email",
                           received_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC), application="spse",
                           spse_version="4.5", error_code="ERR-500", tender_code="10012345", ticket_type="problem",
                           requester=requester, office=office)


def _render(what: str, source: str, context: Mapping[str, Any]) -> str:
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    try:
        return env.from_string(source).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise LkppTemplateError(_l("The LKPP email %(what)s template has an error on line %(line)s: %(error)s",
                                   what=_what(what), line=exc.lineno, error=exc.message)) from exc
    except Exception as exc:  # the admin's template code: any error it raises (undefined, sandbox, type) is theirs
        raise LkppTemplateError(_l("The LKPP email %(what)s template cannot be rendered: %(error)s",
                                   what=_what(what), error=f"{type(exc).__name__}: {exc}")) from exc


def _what(what: str) -> object:
    return _l("subject") if what == "subject" else _l("body")


# -- LKPP's ticket numbers and addresses ---------------------------------------------------------------------------

def ticket_number_pattern() -> str:
    """The regular expression an LKPP ticket number matches in full (setting ``lkpp.ticket_number_pattern``)."""
    return str(settings.get_setting("lkpp.ticket_number_pattern") or "").strip() or r"[0-9]{5,10}"


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be the ticket-number pattern (it does not compile, or matches nothing), or None."""
    if not pattern.strip():
        return str(_l("The pattern is empty."))
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return str(_l("The pattern is not a valid regular expression: %(error)s", error=str(exc)))
    if compiled.fullmatch(""):
        return str(_l("The pattern matches an empty number."))
    return None


def normalise_ticket_number(number: str) -> str:
    """The number as typed, without surrounding spaces or a leading ``#``."""
    return (number or "").strip().lstrip("#").strip()


def ticket_number_error(number: str) -> str | None:
    """Why ``number`` is not an LKPP ticket number (the message shows the expected pattern), or None."""
    pattern = ticket_number_pattern()
    number = normalise_ticket_number(number)
    try:
        ok = bool(number) and re.fullmatch(pattern, number) is not None
    except re.error:
        return str(_l("The LKPP ticket number pattern in the settings is not valid: %(pattern)s", pattern=pattern))
    if ok and len(number) <= 100:
        return None
    return str(_l("%(number)s is not an LKPP ticket number. Expected the pattern %(pattern)s.",
                  number=repr(number), pattern=pattern))


def find_ticket_numbers(text: str, *, exclude: Iterable[str] = ()) -> list[str]:
    """Every distinct LKPP ticket number in ``text`` (whole words matching the pattern), in order of appearance,
    leaving out those in ``exclude``."""
    try:
        found = re.finditer(rf"\b(?:{ticket_number_pattern()})\b", text or "")
        numbers = [match.group(0) for match in found]
    except re.error:
        return []
    skip = set(exclude)
    return [number for number in dict.fromkeys(numbers) if number and number not in skip]


def lkpp_addresses() -> list[str]:
    """The addresses and domains LKPP mails from (setting ``lkpp.addresses``), lower-case."""
    value = settings.get_setting("lkpp.addresses") or []
    if isinstance(value, str):
        value = value.split()
    return [entry.strip().lower().lstrip("@") for entry in value if entry and entry.strip()]


def is_lkpp_address(address: str | None) -> bool:
    """Whether ``address`` is one of LKPP's: listed itself, or at a listed domain or one of its subdomains."""
    address = (address or "").strip().lower()
    if "@" not in address:
        return False
    domain = address.rpartition("@")[2]
    for entry in lkpp_addresses():
        if "@" in entry:
            if address == entry:
                return True
        elif domain == entry or domain.endswith("." + entry):
            return True
    return False
