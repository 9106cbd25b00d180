"""The domain's closed vocabularies (DESIGN.md §2), stored as their string values.

Labels are translatable strings (``lazy_gettext``) so the same lists feed forms, filters and reports.
"""
from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Channel(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    WALKIN = "walkin"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WEB = "web"


class StaffRole(enum.StrEnum):
    HELPDESK = "helpdesk"
    VERIFIKATOR = "verifikator"
    ADMIN_PPE = "admin_ppe"
    TRAINER = "trainer"
    KEPALA = "kepala"
    ADMIN = "admin"


class SpseRole(enum.StrEnum):
    PENYEDIA = "penyedia"
    PPK = "ppk"
    POKJA = "pokja"
    PP = "pp"
    PA_KPA = "pa_kpa"
    AUDITOR = "auditor"
    PUBLIK = "publik"
    LAINNYA = "lainnya"


class Application(enum.StrEnum):
    SPSE = "spse"
    SIKAP = "sikap"
    SIRUP = "sirup"
    EKATALOG = "ekatalog"
    OTHER = "other"


class TicketType(enum.StrEnum):
    PROBLEM = "problem"
    REQUEST = "request"
    PROPOSAL = "proposal"


class ProblemKind(enum.StrEnum):
    HARDWARE = "hardware"
    SOFTWARE = "software"
    PROCEDURE = "procedure"
    OTHER = "other"


class Urgency(enum.StrEnum):
    URGENT = "urgent"
    NOT_URGENT = "not_urgent"


class ServiceType(enum.StrEnum):
    """What a walk-in visitor came for; each type has its own checklist (channels/walkin.py)."""

    CONSULTATION = "consultation"
    BIDDING_ROOM = "bidding_room"  # pendampingan upload di bidding room
    DOCUMENT_VERIFICATION = "document_verification"  # verifikasi dokumen penyedia


class Level(enum.StrEnum):
    """Impact (besar/sedang/kecil) and priority (tinggi/menengah/rendah) share three levels."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


LABELS: dict[type[enum.StrEnum], dict[str, object]] = {
    Channel: {
        "email": _l("Email"), "phone": _l("Phone"), "walkin": _l("Walk-in"),
        "sms": _l("SMS"), "whatsapp": _l("WhatsApp"), "web": _l("Web"),
    },
    StaffRole: {
        "helpdesk": _l("Helpdesk officer"), "verifikator": _l("Verifier"), "admin_ppe": _l("Admin PPE"),
        "trainer": _l("Trainer"), "kepala": _l("Head of LPSE"), "admin": _l("System administrator"),
    },
    SpseRole: {
        "penyedia": _l("Supplier (Penyedia)"), "ppk": _l("Commitment officer (PPK)"),
        "pokja": _l("Selection group (Pokja Pemilihan)"), "pp": _l("Procurement official (PP)"),
        "pa_kpa": _l("Budget holder (PA/KPA)"), "auditor": _l("Auditor"), "publik": _l("Public"),
        "lainnya": _l("Other"),
    },
    Application: {
        "spse": "SPSE", "sikap": "SIKaP", "sirup": "SiRUP", "ekatalog": "e-Katalog", "other": _l("Other"),
    },
    TicketType: {"problem": _l("Problem"), "request": _l("Request"), "proposal": _l("Proposal")},
    ProblemKind: {
        "hardware": _l("Hardware"), "software": _l("Software"), "procedure": _l("Procedure"), "other": _l("Other"),
    },
    Urgency: {"urgent": _l("Urgent"), "not_urgent": _l("Not urgent")},
    Level: {"high": _l("High"), "medium": _l("Medium"), "low": _l("Low")},
    ServiceType: {
        "consultation": _l("Consultation"), "bidding_room": _l("Bidding-room assistance"),
        "document_verification": _l("Provider document verification"),
    },
}


def label(vocab: type[enum.StrEnum], value: str | None) -> object:
    """The translatable label of a stored value, or the value itself when it is unknown."""
    if value is None:
        return ""
    return LABELS[vocab].get(value, value)


def choices(vocab: type[enum.StrEnum], *, blank: object | None = None) -> list[tuple[str, object]]:
    """``(value, label)`` pairs for a select field, with an optional blank first choice."""
    pairs = [(member.value, LABELS[vocab][member.value]) for member in vocab]
    return ([("", blank)] if blank is not None else []) + pairs
