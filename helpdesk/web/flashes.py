"""Flash messages several pages share."""
from __future__ import annotations

from flask import flash
from flask_babel import gettext as _

from ..states import STATUS_LABELS, Status


def flash_refused_move(old: str, new: str) -> None:
    """Say that a status change is not allowed and that nothing was changed."""
    flash(_("This status change is not allowed: %(old)s → %(new)s. Nothing was changed.",
            old=STATUS_LABELS[Status(old)], new=STATUS_LABELS[Status(new)]), "danger")
