"""The checklist each walk-in service type records on its ticket (the SOPs' decision points).

Bidding-room assistance follows SOP-LPSE.BTG-006 (pendampingan upload di bidding room): steps 3, 6, 8 and 12
ask a yes/no question, and the answer decides the next step. Provider document verification follows §G.8 of
the Ogan Ilir service guide: the verifier checks completeness, validity and consistency of the two folders.
A consultation has no checklist: its record is the analysis and the answer on the form.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask_babel import lazy_gettext as _l

from .vocab import ServiceType


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: object  # lazy translatable text
    hint: object = ""  # what a "no" leads to, from the SOP


# Results an item can take; "skipped" means the step did not apply this time.
RESULTS: Final = ("yes", "no", "skipped")
RESULT_LABELS: Final = {"yes": _l("Yes"), "no": _l("No"), "skipped": _l("Not applicable")}

CHECKLISTS: Final[dict[str, tuple[ChecklistItem, ...]]] = {
    ServiceType.CONSULTATION: (),
    ServiceType.BIDDING_ROOM: (
        ChecklistItem("training_attended", _l("Has the provider attended SPSE training?"),
                      _l("If not, advise the provider to attend SPSE training first.")),
        ChecklistItem("qualification_filled", _l("Qualification data filled in and supporting documents uploaded?"),
                      _l("If not, explain how to fill in the qualification data and upload the documents.")),
        ChecklistItem("documents_uploaded", _l("Filling in the data and uploading the documents with the trainer "
                                               "succeeded?"),
                      _l("If not, ask another unit of the LPSE for help, or escalate to the LKPP helpdesk.")),
        ChecklistItem("offer_uploaded", _l("Offer document encrypted and uploaded successfully?"),
                      _l("If not, handle the problem or escalate it to the LKPP helpdesk by email or ticket.")),
    ),
    ServiceType.DOCUMENT_VERIFICATION: (
        ChecklistItem("complete", _l("Complete: every required document is present (first and second folder)?"),
                      _l("If not, stop the verification and return the folders with an explanation.")),
        ChecklistItem("valid", _l("Valid: every document is still in force?"),
                      _l("If not, ask the provider to renew the documents.")),
        ChecklistItem("consistent", _l("Consistent: the documents match the online registration data?"),
                      _l("If not, ask the provider to correct the registration data.")),
        ChecklistItem("approved", _l("Verification approved and the verification card handed over?")),
    ),
}

# Queue letters: each service type has its own line of numbers (A-001, B-001, C-001), restarting every day.
QUEUE_LETTERS: Final = {
    ServiceType.CONSULTATION: "A", ServiceType.BIDDING_ROOM: "B", ServiceType.DOCUMENT_VERIFICATION: "C",
}


def checklist_for(service_type: str) -> tuple[ChecklistItem, ...]:
    """The items of ``service_type``'s checklist (empty for a consultation); KeyError for an unknown type."""
    return CHECKLISTS[ServiceType(service_type)]
