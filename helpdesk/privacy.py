"""Personal identity numbers (NPWP, NIK): who may see them whole, and how they are masked for everyone else.

UU 27/2022 asks that personal data be shown only to those who need it. Officers who escalate to LKPP or verify
supplier documents need the full numbers (setting ``privacy.identity_roles``); everyone else, and every log line,
sees them masked: the last four digits only.
"""
from __future__ import annotations

import re

from .settings import get_setting

# A 16-digit NIK, or an NPWP in its 15/16-digit forms, bare or punctuated (01.234.567.8-901.000).
IDENTITY_NUMBER = re.compile(r"(?<![0-9])(?:[0-9][.\- ]?){14,15}[0-9](?![0-9])")


def mask_number(value: str | None, *, keep: int = 4) -> str:
    """``value`` with every digit but the last ``keep`` replaced by "•", punctuation kept ("••.•••.•••.•-•••.•000")."""
    if not value:
        return ""
    digits = sum(ch.isdigit() for ch in value)
    hide = max(digits - keep, 0)
    out = []
    for ch in value:
        if ch.isdigit() and hide > 0:
            out.append("•")
            hide -= 1
        else:
            out.append(ch)
    return "".join(out)


def mask_identity_numbers(text: str) -> str:
    """``text`` with every NIK/NPWP-shaped number in it masked (for log lines and exports to roles without access)."""
    return IDENTITY_NUMBER.sub(lambda m: mask_number(m.group(0)), text)


def can_see_identity(staff) -> bool:
    """Whether ``staff`` may see NPWP and NIK whole."""
    if staff is None or not getattr(staff, "is_authenticated", True):
        return False
    return bool(getattr(staff, "is_admin", False)) or staff.role in set(get_setting("privacy.identity_roles"))


def shown_identity(value: str | None, staff) -> str:
    """The NPWP or NIK as ``staff`` may see it."""
    return (value or "") if can_see_identity(staff) else mask_number(value)
