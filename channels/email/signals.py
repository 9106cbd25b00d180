"""What kind of mail a parsed message is (a person, an autoresponder, a bounce, a list) and may we answer it.

Rules follow RFC 3834 (Auto-Submitted), RFC 3464 (delivery status notifications), RFC 8098 (read receipts),
RFC 2369/2919 (list headers) and the habits of Exchange, Gmail, Zimbra, Postfix and Mailman. Pure: reads a
ParsedEmail and nothing else.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass

from channels.email.parse import ParsedEmail, message_ids, read_headers


class MailKind(enum.StrEnum):
    """What sort of mail a message is, as far as answering it goes."""

    HUMAN = "human"
    AUTO_REPLY = "auto_reply"  # auto-submitted / autoresponder, not out-of-office
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"  # delivery failure (RFC 3464 Action: failed, or MTA bounce heuristics)
    DELIVERY_REPORT = "delivery_report"  # a DSN that is not a failure (delayed/delivered/relayed), or an MDN
    BULK = "bulk"  # mailing lists, Precedence bulk/junk/list, newsletters


@dataclass(frozen=True)
class Signals:
    """The verdict on one inbound message."""

    kind: MailKind
    no_reply_reason: str | None  # None: we may auto-reply; otherwise one of NO_REPLY_REASONS
    no_reply_detail: str  # the header and value that decided it, e.g. "Auto-Submitted: auto-replied"
    original_message_ids: list[str]  # bounce/DSN/MDN: the Message-IDs of the message it reports on
    has_loop_header: bool


# In the order they are checked: the first that applies is the reason given.
NO_REPLY_REASONS = ("loop_header", "own_address", "system_sender", "bounce", "delivery_report", "auto_submitted",
                    "auto_response_suppress", "autoreply_header", "precedence", "list", "no_sender")

SYSTEM_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "no-reply", "noreply", "do-not-reply",
                                "donotreply", "bounce", "bounces"})
AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply-from", "x-mail-autoreply")
LIST_HEADERS = ("list-id", "list-unsubscribe")
NO_REPLY_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})
REPORT_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
MDN_TYPES = frozenset({"message/disposition-notification", "message/global-disposition-notification"})
ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global", "text/rfc822-headers",
                            "message/global-headers"})

# Subjects of out-of-office replies: Outlook's prefixes in English and Indonesian, and the words people use.
_OOF_SUBJECT = re.compile(
    r"^(automatic reply|balasan otomatis|out of (the )?office|auto(matic)?[ -]?reply|abwesenheitsnotiz|"
    r"réponse automatique)\s*:|out of (the )?office|\bvacation\b|\bon leave\b|di luar kantor|sedang cuti|"
    r"\bcuti\b|\bautoreply\b", re.IGNORECASE)
# Subjects of MTA bounces that do not use RFC 3464 (or whose report part we could not read).
_BOUNCE_SUBJECT = re.compile(
    r"undeliver(ed|able)|delivery status notification \(failure\)|mail delivery (failed|failure|system)|"
    r"returned mail|delivery failure|failure notice|non[- ]?delivery|could not be delivered|"
    r"tidak (dapat )?terkirim|gagal (di)?kirim", re.IGNORECASE)
_DELAY_SUBJECT = re.compile(r"delivery status notification \(delay\)|delayed mail|delivery delayed|"
                            r"warning: could not send message", re.IGNORECASE)
_ACTION = re.compile(r"^\s*action\s*:\s*([a-z-]+)", re.IGNORECASE | re.MULTILINE)
_ORIGINAL_ID_IN_TEXT = re.compile(r"^\s*message-id\s*:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def classify(parsed: ParsedEmail, *, own_addresses: Collection[str], loop_header: str) -> Signals:
    """Sort a parsed message and say whether an automatic reply to it is allowed. Never raises."""
    headers = parsed.headers
    first = {name: values[0].strip() for name, values in headers.items() if values}
    own = {address.strip().lower() for address in own_addresses}
    sender = parsed.sender.address if parsed.sender else ""

    report_type, content_type = _report_type(first.get("content-type", ""))
    statuses = _actions(parsed)
    bounce = _is_bounce(parsed, first, report_type, statuses)
    delivery_report = not bounce and _is_delivery_report(parsed, first, report_type, statuses)
    auto_submitted = first.get("auto-submitted", "")
    auto_token = auto_submitted.split(";", 1)[0].split("(", 1)[0].strip().lower()
    suppress = first.get("x-auto-response-suppress", "")
    autoreply = next((name for name in AUTOREPLY_HEADERS
                      if name in first and first[name].lower() not in ("no", "false", "0")), None)
    precedence = first.get("precedence", first.get("x-precedence", "")).strip().lower()
    listed = next((name for name in LIST_HEADERS if name in first), None)
    loop_name = loop_header.strip().lower()
    has_loop = bool(loop_name) and loop_name in headers

    reasons: list[tuple[str, str]] = []
    if has_loop:
        reasons.append(("loop_header", f"{loop_header}: {first.get(loop_name, '')}"))
    if sender and sender in own:
        reasons.append(("own_address", f"From: {sender}"))
    system = _system_sender(parsed, first, report_type, content_type)
    if system:
        reasons.append(("system_sender", system))
    if bounce:
        reasons.append(("bounce", bounce))
    if delivery_report:
        reasons.append(("delivery_report", delivery_report))
    if auto_token and auto_token != "no":
        reasons.append(("auto_submitted", f"Auto-Submitted: {auto_submitted}"))
    if suppress and suppress.lower() != "none":
        reasons.append(("auto_response_suppress", f"X-Auto-Response-Suppress: {suppress}"))
    if autoreply:
        reasons.append(("autoreply_header", f"{_title(autoreply)}: {first[autoreply]}"))
    if precedence in NO_REPLY_PRECEDENCE:
        reasons.append(("precedence", f"Precedence: {precedence}"))
    if listed:
        reasons.append(("list", f"{_title(listed)}: {first[listed]}"))
    if parsed.sender is None:
        reasons.append(("no_sender", "no usable From, Reply-To, Sender or Return-Path"))
    reason, detail = reasons[0] if reasons else (None, "")

    if bounce:
        kind = MailKind.BOUNCE
    elif delivery_report:
        kind = MailKind.DELIVERY_REPORT
    elif _is_out_of_office(parsed, first, auto_token, suppress, bool(autoreply), precedence):
        kind = MailKind.OUT_OF_OFFICE
    elif (auto_token and auto_token != "no") or autoreply or precedence == "auto_reply":
        kind = MailKind.AUTO_REPLY
    elif precedence in BULK_PRECEDENCE or listed:
        kind = MailKind.BULK
    else:
        kind = MailKind.HUMAN
    originals = _original_ids(parsed) if kind in (MailKind.BOUNCE, MailKind.DELIVERY_REPORT) else []
    return Signals(kind=kind, no_reply_reason=reason, no_reply_detail=detail, original_message_ids=originals,
                   has_loop_header=has_loop)


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _report_type(content_type: str) -> tuple[str, str]:
    """(report-type parameter, lower-case type/subtype) of a Content-Type value."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    match = re.search(r"report-type\s*=\s*\"?([\w./-]+)", content_type, re.IGNORECASE)
    return (match.group(1).lower() if match else ""), ctype


def _actions(parsed: ParsedEmail) -> list[str]:
    """Every per-recipient Action of the message/delivery-status parts (failed, delayed, delivered...)."""
    actions: list[str] = []
    for attachment in parsed.attachments:
        if attachment.content_type in REPORT_TYPES:
            text = attachment.data.decode("utf-8", errors="replace")
            actions += [action.lower() for action in _ACTION.findall(text)]
    return actions


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].split("+", 1)[0].lower()


def _has_report_shape(parsed: ParsedEmail, content_type: str) -> bool:
    return content_type == "multipart/report" or any(
        a.content_type in REPORT_TYPES | MDN_TYPES for a in parsed.attachments)


def _system_sender(parsed: ParsedEmail, first: dict[str, str], report_type: str, content_type: str) -> str:
    if parsed.sender and _local_part(parsed.sender.address) in SYSTEM_LOCAL_PARTS:
        return f"From: {parsed.sender.address}"
    from_header = first.get("from", "")
    if parsed.sender is None and re.search(r"\b(mailer-daemon|postmaster)\b", from_header, re.IGNORECASE):
        return f"From: {from_header}"
    return_path = first.get("return-path", "")
    if return_path.replace(" ", "") == "<>" and _has_report_shape(parsed, content_type):
        return "Return-Path: <>"
    return ""


def _is_bounce(parsed: ParsedEmail, first: dict[str, str], report_type: str, statuses: list[str]) -> str:
    if "failed" in statuses:
        return "Action: failed"
    if report_type == "delivery-status" and not statuses and _BOUNCE_SUBJECT.search(parsed.subject):
        return f"report-type=delivery-status, Subject: {parsed.subject}"
    if "x-failed-recipients" in first:
        return f"X-Failed-Recipients: {first['x-failed-recipients']}"
    sender = parsed.sender.address if parsed.sender else first.get("from", "")
    if (_local_part(sender) in ("mailer-daemon", "postmaster") or "mailer-daemon" in sender.lower()) and \
            _BOUNCE_SUBJECT.search(parsed.subject) and not statuses:
        return f"From: {sender}, Subject: {parsed.subject}"
    return ""


def _is_delivery_report(parsed: ParsedEmail, first: dict[str, str], report_type: str, statuses: list[str]) -> str:
    if statuses:
        return f"Action: {statuses[0]}"
    if report_type == "disposition-notification" or any(a.content_type in MDN_TYPES for a in parsed.attachments):
        return "report-type=disposition-notification"
    if report_type == "delivery-status":
        return "report-type=delivery-status"
    sender = parsed.sender.address if parsed.sender else first.get("from", "")
    if _local_part(sender) in ("mailer-daemon", "postmaster") and _DELAY_SUBJECT.search(parsed.subject):
        return f"From: {sender}, Subject: {parsed.subject}"
    return ""


def _is_out_of_office(parsed: ParsedEmail, first: dict[str, str], auto_token: str, suppress: str,
                      autoreply: bool, precedence: str) -> bool:
    auto_submitted = first.get("auto-submitted", "").lower()
    if "vacation" in auto_submitted:  # Zimbra: "auto-replied (zimbra; vacation)"
        return True
    if auto_token == "auto-replied" and "owner-email=" in auto_submitted:
        return True
    if re.search(r"\b(all|oof)\b", suppress, re.IGNORECASE) and "x-ms-exchange-inbox-rules-loop" in first:
        return True  # Exchange's OOF assistant
    automatic = auto_token == "auto-replied" or bool(suppress) or autoreply or precedence == "auto_reply"
    return automatic and bool(_OOF_SUBJECT.search(parsed.subject))


def _original_ids(parsed: ParsedEmail) -> list[str]:
    """Message-IDs of the reported message: from the attached original or MDN, else the body, else threading."""
    found: list[str] = []
    for attachment in parsed.attachments:
        if attachment.content_type in ORIGINAL_TYPES:
            for value in read_headers(attachment.data).get("message-id", []):
                found += [mid for mid in message_ids(value) if mid not in found]
        elif attachment.content_type in MDN_TYPES:
            for value in read_headers(attachment.data).get("original-message-id", []):
                found += [mid for mid in message_ids(value) if mid not in found]
    if not found:
        found = list(dict.fromkeys(_ORIGINAL_ID_IN_TEXT.findall(parsed.text)))
    if not found:
        found = list(dict.fromkeys(parsed.in_reply_to + parsed.references))
    return found
