"""The public status page: reference plus email or phone, or a signed link; shows only what is public;
never tells whether a reference exists; rate-limited; no 500 on malformed input."""
from __future__ import annotations

import re

import pytest

from helpdesk import tickets
from helpdesk.extensions import db, limiter
from helpdesk.status_links import find_for_requester, status_token, status_url, ticket_for_token

SECRET = "RAHASIA-INTERNAL-7f3a"


@pytest.fixture(autouse=True)
def fresh_limits(app):
    limiter.reset()
    yield
    limiter.reset()


@pytest.fixture
def answered(make_staff, make_requester, make_ticket):
    """A ticket with a public reply, a pending move, an internal note and an internal escalation reason."""
    officer = make_staff(name="Rina Petugas")
    requester = make_requester(name="Budi Santoso", email="budi@penyedia.example.co.id", phone="+6281234567890",
                               organization="PT Sinar Abadi")
    ticket = make_ticket(requester=requester, subject="Tidak bisa unggah penawaran")
    tickets.add_message(ticket, direction="outbound", body="Silakan gunakan peramban terbaru.", actor=officer,
                        via="phone")
    tickets.add_note(ticket, body=f"Catatan internal {SECRET}", actor=officer)
    tickets.change_status(ticket, "pending", actor=officer, note=f"alasan pending {SECRET}")
    tickets.escalate(ticket, role="verifikator", actor=officer, reason=f"eskalasi {SECRET}")
    tickets.classify(ticket, actor=officer, error_code=f"ERR-{SECRET}")
    db.session.commit()
    return ticket


def lookup(client, reference, contact):
    return client.post("/status", data={"reference": reference, "contact": contact})


def without_csrf(body: str) -> str:
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', 'name="csrf_token"', body)


def without_next(body: str) -> str:
    return re.sub(r"next=[^\"]*", "next=", body)


def test_reference_and_email_show_status_deadline_and_reply(client, answered):
    response = lookup(client, f"  {answered.ref.lower()} ", "BUDI@Penyedia.example.co.id")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="status-ref">{answered.ref}<' in page
    assert "Tidak bisa unggah penawaran" in page
    assert 'data-status="escalated"' in page
    assert "Rabu, 25 November 2026 pukul 10.00 WIB" in page  # received Tue 24 Nov 10:00 WIB, one working day
    assert 'data-followed-up="yes"' in page
    assert "Silakan gunakan peramban terbaru." in page and "Rina Petugas" in page
    assert 'data-entry="pending"' in page


def test_phone_typed_nationally_matches_the_stored_e164_number(client, answered):
    response = lookup(client, answered.ref, "0812-3456-7890")
    assert response.status_code == 200
    assert f'id="status-ref">{answered.ref}<' in response.get_data(as_text=True)


def test_internal_data_is_never_shown(client, answered, make_ticket):
    other = make_ticket(requester=answered.requester, subject="Tiket lain milik pelapor yang sama")
    page = lookup(client, answered.ref, "budi@penyedia.example.co.id").get_data(as_text=True)
    assert 'data-entry="reply"' in page  # the page did render the ticket
    assert SECRET not in page  # note, pending note, escalation reason, classification
    for private in ("budi@penyedia.example.co.id", "81234567890", "812-3456-7890", "PT Sinar Abadi",
                    "Budi Santoso", other.ref, other.subject, "verifikator"):
        assert private not in page, private


def test_unknown_reference_and_wrong_contact_get_the_same_answer(app, client, answered):
    app.config["WTF_CSRF_ENABLED"] = True
    form = client.get("/status").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    ref = answered.ref
    unknown_ref = ref[:-6] + ("999999" if not ref.endswith("999999") else "999998")
    wrong_contact = client.post("/status", data={"csrf_token": token, "reference": ref,
                                                 "contact": "orang.lain@example.com"})
    unknown = client.post("/status", data={"csrf_token": token, "reference": unknown_ref,
                                           "contact": "budi@penyedia.example.co.id"})
    wrong_phone = client.post("/status", data={"csrf_token": token, "reference": ref, "contact": "081299998888"})
    assert wrong_contact.status_code == unknown.status_code == wrong_phone.status_code == 404
    body = without_csrf(wrong_contact.get_data(as_text=True))
    assert 'id="status-not-found"' in body
    assert ref not in body and unknown_ref not in body  # nothing typed is echoed back
    assert body == without_csrf(unknown.get_data(as_text=True)) == without_csrf(wrong_phone.get_data(as_text=True))


def test_blank_contact_never_matches_a_requester_without_one(client, make_requester, make_ticket):
    walk_in = make_ticket(requester=make_requester(name="Tamu", email=None, phone=None))
    assert find_for_requester(walk_in.ref, "") is None
    assert lookup(client, walk_in.ref, " ").status_code == 422  # required field
    assert lookup(client, walk_in.ref, "0").status_code == 404


def test_signed_link_shows_the_ticket_and_a_tampered_one_is_not_found(app, client, answered):
    token = status_token(answered)
    assert ticket_for_token(token).id == answered.id
    response = client.get(f"/status/{token}")
    assert response.status_code == 200
    assert "Silakan gunakan peramban terbaru." in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    not_found = lookup(client, answered.ref, "orang.lain@example.com")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (tampered, "x", "a" * 500, token.replace(".", "")):
        response = client.get(f"/status/{bad}")
        assert response.status_code == 404, bad
        # the same neutral answer (the language links return to the address asked for)
        assert without_next(response.get_data(as_text=True)) == without_next(not_found.get_data(as_text=True))
        assert ticket_for_token(bad) is None


def test_token_signed_for_something_else_is_refused(app, answered):
    from itsdangerous import URLSafeSerializer
    other_salt = URLSafeSerializer(app.config["SECRET_KEY"], salt="another-purpose").dumps([answered.id, answered.ref])
    wrong_ref = URLSafeSerializer(app.config["SECRET_KEY"], salt="ticket-status").dumps([answered.id, "TST-X"])
    not_a_pair = URLSafeSerializer(app.config["SECRET_KEY"], salt="ticket-status").dumps({"id": answered.id})
    assert ticket_for_token(other_salt) is None
    assert ticket_for_token(wrong_ref) is None
    assert ticket_for_token(not_a_pair) is None


def test_status_url_is_absolute_and_uses_public_base_url(app, answered):
    app.config["PUBLIC_BASE_URL"] = "https://helpdesk.lpse.example.go.id/"
    url = status_url(answered)  # no request: as an SMS job would call it
    assert url == f"https://helpdesk.lpse.example.go.id/status/{status_token(answered)}"
    app.config["PUBLIC_BASE_URL"] = None
    with app.test_request_context("/", base_url="http://kiosk.local:8000"):
        assert status_url(answered) == f"http://kiosk.local:8000/status/{status_token(answered)}"


def test_public_history_shows_consultation_answer_and_resolution(client, make_staff, make_ticket):
    officer = make_staff(name="Sari Pendamping")
    ticket = make_ticket(channel="walkin")
    tickets.record_consultation(ticket, analysis=f"analisis {SECRET}", answer="Unggah ulang dengan Apendo terbaru.",
                                outcome="solved", officer=officer, service_type="consultation")
    tickets.resolve(ticket, actor=officer, solution=f"solusi {SECRET}")
    db.session.commit()
    page = client.get(f"/status/{status_token(ticket)}").get_data(as_text=True)
    assert "Unggah ulang dengan Apendo terbaru." in page and "Sari Pendamping" in page
    assert 'data-entry="resolved"' in page and 'id="status-resolved"' in page
    assert SECRET not in page


def test_page_is_public_noindex_and_has_no_inline_script(client):
    response = client.get("/status")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<meta name="robots" content="noindex">' in page
    assert "<script" not in page  # nothing the CSP would have to allow
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert 'href="/lang/en?next=/status"' in page
    assert 'id="nav-quarantine"' not in page and "/logout" not in page  # no staff navigation


def test_csrf_is_required_and_an_expired_form_is_explained(app, client, answered):
    app.config["WTF_CSRF_ENABLED"] = True
    response = lookup(client, answered.ref, "budi@penyedia.example.co.id")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="status-expired"' in page and "Silakan gunakan" not in page


def test_lookups_are_rate_limited(app, client, answered):
    app.config["STATUS_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert lookup(client, answered.ref, "salah@example.com").status_code == 404
    limited = lookup(client, answered.ref, "budi@penyedia.example.co.id")  # even the right answer now waits
    assert limited.status_code == 429
    assert 'id="status-limited"' in limited.get_data(as_text=True)
    assert "Retry-After" in limited.headers
    assert client.get(f"/status/{status_token(answered)}").status_code == 429  # one budget for links too
    assert client.get("/status").status_code == 200  # the empty form is not counted
    other = app.test_client()
    other_client = lookup(other, answered.ref, "budi@penyedia.example.co.id")
    assert other_client.status_code == 429  # same address: the limit is per client address, not per session
    from_elsewhere = other.post("/status", data={"reference": answered.ref, "contact": "budi@penyedia.example.co.id"},
                                environ_overrides={"REMOTE_ADDR": "10.1.2.3"})
    assert from_elsewhere.status_code == 200


def test_rate_limit_page_is_only_for_the_status_page(app, client, make_staff, login):
    app.config["STATUS_RATE_LIMIT"] = "1 per minute"
    lookup(client, "X", "y")
    assert lookup(client, "X", "y").status_code == 429
    login(client, make_staff())
    assert client.get("/tickets").status_code == 200  # other pages are not limited by it


MALFORMED = [
    {},
    {"reference": "TST-2026-000001"},
    {"contact": "budi@penyedia.example.co.id"},
    {"reference": "", "contact": ""},
    {"reference": "A" * 100_000, "contact": "b" * 100_000},
    {"reference": "TST\x00-2026", "contact": "budi\x00@penyedia.example.co.id"},
    {"reference": "\x00", "contact": "\x00"},
    {"reference": "TST-2026-00000١", "contact": "٠٨١٢٣٤٥٦٧٨٩٠"},  # Arabic-Indic digits
    {"reference": "🎫-2026-000001", "contact": "📞 0812 3456 7890"},
    {"reference": "'; DROP TABLE ticket; --", "contact": "' OR 1=1 --"},
    {"reference": "%s%s%n", "contact": "{{ 7*7 }}"},
    {"reference": ["TST-2026-000001", "X"], "contact": ["a@b.c", "0812"]},
    {"reference": "TST-2026-000001", "contact": "+" + "9" * 300},
    {"reference": "\u202eTST-2026-000001", "contact": "\ud7ff\ufffd"},
    {"reference": " # tst-2026-000001 ", "contact": "@"},
]


@pytest.mark.parametrize("data", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_input_never_fails(client, answered, data):
    response = client.post("/status", data=data)
    assert response.status_code in (404, 422), response.status_code
    assert SECRET not in response.get_data(as_text=True)


def test_malformed_requests_of_other_shapes_never_fail(app, client, answered):
    app.config["STATUS_RATE_LIMIT"] = "100 per minute"
    # A JSON body is refused before the form reads it (415), whatever its shape.
    assert client.post("/status", json={"reference": answered.ref, "contact": "x"}).status_code == 415
    for body in ({"reference": 123, "contact": 456}, {"reference": None, "contact": {"a": 1}},
                 {"reference": [answered.ref], "contact": [["budi@penyedia.example.co.id"]]}, [1, 2], "x", 7):
        response = client.post("/status", json=body)
        assert response.status_code == 415, (body, response.status_code)
    assert client.post("/status", data="{not json", content_type="application/json").status_code == 415
    assert client.post("/status", data=b"\xff\xfe\x00garbage",
                       content_type="application/x-www-form-urlencoded").status_code == 422
    assert client.post("/status?reference=a&contact=b", data="").status_code == 422
    assert client.get("/status/" + "%00" * 10).status_code == 404
    assert client.get("/status/" + "é" * 50).status_code == 404
    assert client.put("/status").status_code == 405
