"""Who may see what: every staff page needs a login, only admins manage staff, CSRF on every form."""
from __future__ import annotations

import re

from helpdesk.extensions import db
from helpdesk.models import Staff, Ticket

PUBLIC_ENDPOINTS = {
    "static", "auth.login", "auth.set_language", "bootstrap.static", "status.lookup", "status.by_token",
    # the walk-in kiosk and the now-serving display stand in the waiting room
    "walkin.kiosk_default", "walkin.kiosk", "walkin.receipt", "walkin.suggestions", "walkin.display_default",
    "walkin.display", "walkin.display_state",
    # the page the links of an automatic FAQ answer lead to: the signed token is the key
    "faq_answers.answer",
    # the public FAQ page and its entries
    "faq.public_index", "faq.public_entry",
    # monitoring: the health checks and the Prometheus metrics (the latter optionally behind METRICS_TOKEN)
    "health.healthz", "health.metrics",
}
# Twilio's webhooks need no login but a valid X-Twilio-Signature: without one they answer 403.
SIGNED_PREFIX = "twilio."


def _example_url(rule, ticket_ref: str) -> str:
    values = {"ref": ticket_ref, "staff_id": "1", "attachment_id": "1", "code": "id", "filename": "x",
              "message_id": "1", "inbound_id": "1", "event_id": "1", "call_id": "1", "visit_id": "1",
              "office": "tst", "token": "x", "entry_id": "1", "key": "x", "override_id": "1", "period_id": "1",
              "escalation_id": "1"}
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)


def test_every_staff_page_needs_login(app, client, make_ticket):
    ticket = make_ticket()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS or rule.endpoint.startswith(SIGNED_PREFIX):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_example_url(rule, ticket.ref), method=method)
            assert response.status_code == 302, (rule.rule, method)
            assert response.location.startswith("/login"), (rule.rule, method)
            checked += 1
    assert checked >= 12  # queue, ticket page and its actions, phone log, lookup, staff admin


def test_every_twilio_webhook_refuses_an_unsigned_request(app, client, office):
    app.config["TWILIO_AUTH_TOKEN"] = "0123456789abcdef0123456789abcdef"
    webhooks = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(SIGNED_PREFIX)]
    assert len(webhooks) >= 5
    for rule in webhooks:
        assert client.post(rule.rule, data={"CallSid": "CA1", "From": "+6281234567890"}).status_code == 403, rule


def test_only_admins_manage_staff(client, login, make_staff):
    officer = make_staff(role="kepala")
    login(client, officer)
    assert client.get("/admin/staff").status_code == 403
    assert client.post("/admin/staff/new", data={"email": "x@y.id", "name": "X", "role": "admin",
                                                 "password": "rahasia123"}).status_code == 403
    assert db.session.query(Staff).filter_by(email="x@y.id").count() == 0


def test_admin_adds_and_edits_an_officer(client, login, make_staff):
    login(client, make_staff(role="admin"))
    response = client.post("/admin/staff/new", data={"email": "Baru@LPSE.go.id", "name": "Petugas Baru",
                                                     "role": "helpdesk", "password": "rahasia123", "active": "y"})
    assert response.status_code == 302
    created = db.session.query(Staff).filter_by(email="baru@lpse.go.id").one()
    assert created.check_password("rahasia123") and created.password_hash != "rahasia123"
    response = client.post(f"/admin/staff/{created.id}", data={"email": created.email, "name": "Petugas Lama",
                                                               "role": "verifikator", "password": ""})
    assert response.status_code == 302
    db.session.refresh(created)
    assert (created.name, created.role, created.active) == ("Petugas Lama", "verifikator", False)
    assert created.check_password("rahasia123")  # a blank password keeps the old one


def test_the_last_admin_cannot_demote_themselves(client, login, make_staff):
    admin = make_staff(role="admin")
    login(client, admin)
    response = client.post(f"/admin/staff/{admin.id}", data={"email": admin.email, "name": admin.name,
                                                             "role": "helpdesk", "active": "y"})
    assert response.status_code == 422
    db.session.refresh(admin)
    assert admin.role == "admin"


def test_login_locks_after_repeated_failures(app, client, login, make_staff):
    officer = make_staff()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        response = login(client, officer, password="salah-salah")
        assert response.status_code == 200
    response = login(client, officer)  # the right password, but the account is locked now
    assert response.status_code == 200
    assert "dikunci" in response.get_data(as_text=True)
    assert client.get("/tickets").status_code == 302
    db.session.refresh(officer)
    assert officer.locked_until is not None


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, login, make_staff):
    officer = make_staff()
    wrong_password = login(client, officer, password="bukan-ini").get_data(as_text=True)
    unknown = client.post("/login", data={"email": "siapa@x.id", "password": "bukan-ini"}).get_data(as_text=True)
    assert "Email atau kata sandi salah" in wrong_password
    assert "Email atau kata sandi salah" in unknown


def test_login_redirects_only_to_local_pages(client, make_staff):
    officer = make_staff()
    response = client.post("/login?next=https://evil.example/", data={"email": officer.email,
                                                                      "password": "rahasia123"})
    assert response.location == "/tickets"
    client.post("/logout")
    response = client.post("/login?next=/phone/new", data={"email": officer.email, "password": "rahasia123"})
    assert response.location == "/phone/new"


def test_forms_without_csrf_token_are_refused(app, client, login, make_staff, make_ticket):
    officer = make_staff()
    ticket = make_ticket()
    login(client, officer)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/tickets/{ticket.ref}/note", data={"note-body": "tanpa token"})
    assert response.status_code == 400
    assert db.session.query(Ticket).count() == 1
    assert [e.kind for e in ticket.events] == ["created"]
    page = client.get(f"/tickets/{ticket.ref}").get_data(as_text=True)
    forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, flags=re.DOTALL)
    assert len(forms) >= 6
    assert all(re.search(r'name="[a-z-]*csrf_token"', form) for form in forms)  # every form has its token


def test_interface_is_indonesian_by_default_with_english_switch(app, client, login, make_staff):
    def page() -> str:
        with app.app_context():  # a request of its own, as in production (Flask-Babel caches on g)
            return client.get("/tickets").get_data(as_text=True)

    login(client, make_staff())
    assert "Catat telepon" in page()
    client.get("/lang/en")
    assert "Log a call" in page()
    client.get("/lang/xx")  # unknown languages are ignored
    assert "Log a call" in page()
    client.get("/lang/id")
    assert "Catat telepon" in page()


def test_the_audit_log_is_for_admins_and_the_head_only(client, login, make_staff):
    """/admin/audit and its CSV export: roles_required("kepala") (administrators always)."""
    audit_paths = [rule.rule for rule in client.application.url_map.iter_rules() if rule.endpoint.startswith("audit.")]
    assert sorted(audit_paths) == ["/admin/audit", "/admin/audit/export.csv"]
    expected = {"helpdesk": 403, "verifikator": 403, "admin_ppe": 403, "trainer": 403, "kepala": 200, "admin": 200}
    officers = {role: make_staff(role=role) for role in expected}
    for role, status in expected.items():
        with client.application.app_context():  # a context of its own: the login is this officer's
            login(client, officers[role])
            for path in audit_paths:
                assert client.get(path).status_code == status, (role, path)
            client.post("/logout")
