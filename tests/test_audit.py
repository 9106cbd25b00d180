"""The audit log (issue 8): sign-ins, administrators' changes and views of personal data each write exactly their
line (actor, target, IP); the page lists, filters and exports them for admins and the head of the LPSE only; the
TTS page masks NPWP/NIK for roles without access."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from helpdesk import escalations
from helpdesk.cli import cli
from helpdesk.extensions import db
from helpdesk.models import AuditEntry, OutboxMessage, Staff
from helpdesk.settings import set_setting
from helpdesk.states import Status

from .conftest import PASSWORD, RECEIVED_AT

NPWP = "01.234.567.8-901.000"
NIK = "3201234567890123"


def lines(action: str | None = None) -> list[AuditEntry]:
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def only(action: str) -> AuditEntry:
    found = lines(action)
    assert len(found) == 1, [(line.action, line.detail) for line in lines()]
    return found[0]


def everything_written() -> str:
    return json.dumps([[line.actor_label, line.action, line.target_id, line.detail] for line in lines()])


@pytest.fixture
def admin(client, login, make_staff):
    staff = make_staff(role="admin", name="Admin Kantor", email="admin@lpse.example.go.id")
    login(client, staff)
    return staff


# -- sign-ins -----------------------------------------------------------------------------------------------------

def test_a_sign_in_is_recorded_with_the_officer_and_address(client, login, make_staff):
    officer = make_staff()
    assert login(client, officer).status_code == 302
    line = only("login.succeeded")
    assert (line.actor_id, line.actor_label, line.target_type, line.target_id) == \
        (officer.id, officer.email, "staff", str(officer.id))
    assert line.ip == "127.0.0.1" and line.office_id == officer.office_id


def test_a_failed_sign_in_keeps_the_email_typed_but_never_the_password(client, make_staff):
    officer = make_staff()
    client.post("/login", data={"email": officer.email.upper(), "password": "Tebakan-Salah-99"})
    line = only("login.failed")
    assert line.actor_id is None and line.actor_label == officer.email.upper()
    assert (line.target_type, line.target_id, line.detail) == ("staff", str(officer.id), {"known_account": True})
    client.post("/login", data={"email": "penyusup@luar.example", "password": "Tebakan-Salah-99"})
    unknown = lines("login.failed")[-1]
    assert unknown.actor_label == "penyusup@luar.example" and unknown.target_id is None
    assert unknown.detail == {"known_account": False} and unknown.ip == "127.0.0.1"
    assert "Tebakan-Salah-99" not in everything_written()
    assert lines("login.succeeded") == []


def test_a_typed_email_is_cut_short(client):
    client.post("/login", data={"email": "a" * 200 + "@x.id", "password": "whatever"})
    assert len(only("login.failed").actor_label) == 100


def test_a_locked_account_is_recorded_as_locked(app, client, login, make_staff):
    officer = make_staff()
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        login(client, officer, password="salah-salah")
    assert len(lines("login.failed")) == app.config["LOGIN_MAX_FAILURES"] - 1
    login(client, officer, password="salah-salah")  # this one locks the account
    login(client, officer)  # the right password, refused while locked
    locked = lines("login.locked")
    assert len(locked) == 2 and all(line.target_id == str(officer.id) for line in locked)
    assert "locked_until" in locked[-1].detail and lines("login.succeeded") == []


@pytest.mark.usefixtures("english")
def test_sign_ins_from_one_address_are_throttled_whatever_the_account(app, client, make_staff):
    """Guessing one password across many accounts never trips a lockout; the per-address limit stops it."""
    from helpdesk.extensions import limiter

    limiter.reset()
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [client.post("/login", data={"email": f"petugas{n}@lpse.example.go.id", "password": "Rahasia2026"})
                   for n in range(4)]
    finally:
        limiter.reset()
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert "Too many sign-in attempts" in answers[-1].get_data(as_text=True)
    assert len(lines("login.failed")) == 3  # the fourth was not even checked
    assert only("login.throttled").actor_label == "petugas3@lpse.example.go.id"


def test_signing_out_and_idle_expiry_are_recorded(app, client, login, make_staff):
    officer = make_staff()
    login(client, officer)
    client.post("/logout")
    line = only("logout")
    assert line.actor_id == officer.id and line.target_id == str(officer.id)
    login(client, officer)
    with client.session_transaction() as session:
        session["seen_at"] -= (app.config["SESSION_IDLE_MINUTES"] + 5) * 60
    assert client.get("/tickets").status_code == 302
    expired = only("session.expired")
    assert expired.actor_id == officer.id and expired.detail["idle_minutes"] >= app.config["SESSION_IDLE_MINUTES"]


# -- administrators' changes --------------------------------------------------------------------------------------

def test_staff_changes_name_the_fields_the_role_change_and_a_password_reset(client, admin):
    client.post("/admin/staff/new", data={"email": "baru@lpse.example.go.id", "name": "Petugas Baru",
                                          "role": "helpdesk", "password": "Sandi-Pertama-1", "active": "y"})
    created = db.session.scalars(select(Staff).where(Staff.email == "baru@lpse.example.go.id")).one()
    line = only("staff.created")
    assert (line.actor_id, line.target_id) == (admin.id, str(created.id))
    assert line.detail == {"email": "baru@lpse.example.go.id", "role": "helpdesk"}
    client.post(f"/admin/staff/{created.id}", data={"email": created.email, "name": "Petugas Baru",
                                                   "role": "verifikator", "active": "y", "phone": "081234567890",
                                                   "password": "Sandi-Kedua-22"})
    changed = only("staff.updated")
    assert changed.detail == {"fields": ["role", "phone", "password"], "password_reset": True,
                              "role": {"old": "helpdesk", "new": "verifikator"}}
    written = everything_written()
    assert "Sandi-Pertama-1" not in written and "Sandi-Kedua-22" not in written and "081234567890" not in written


def test_a_refused_staff_change_writes_no_line(client, admin):
    response = client.post(f"/admin/staff/{admin.id}", data={"email": admin.email, "name": admin.name,
                                                             "role": "helpdesk", "active": "y"})
    assert response.status_code == 422
    assert lines("staff.updated") == []


def test_calendar_changes_are_recorded(client, admin):
    client.post("/admin/kalender/libur?tahun=2026", data={"day": "2026-12-14", "kind": "libur_daerah",
                                                          "scope": "office", "name": "Hari Jadi Kabupaten"})
    added = only("calendar.override_added")
    assert added.detail["day"] == "2026-12-14" and added.detail["scope"] == "office"
    client.post(f"/admin/kalender/libur/{added.target_id}/hapus?tahun=2026")
    assert only("calendar.override_removed").target_id == added.target_id
    client.post("/admin/kalender/jam-kerja", data={"open_1": "08:00", "close_1": "16:00"})
    hours = only("calendar.hours_changed")
    assert hours.detail["hours"]["new"]["1"] == ["08:00", "16:00"] and hours.detail["hours"]["new"]["2"] is None
    client.post("/admin/kalender/cuti-bersama", data={"staffed": "y"})
    assert only("calendar.cuti_bersama_changed").detail == {"staffed": {"old": False, "new": True}}
    client.post("/admin/kalender/tinjau?tahun=2026", data={"review_scope": "national", "note": "SKB 2026"})
    assert only("calendar.reviewed").detail == {"year": 2026, "scope": "national"}
    # refused (no name): nothing written
    client.post("/admin/kalender/libur?tahun=2026", data={"day": "2026-12-15", "kind": "libur_daerah",
                                                          "scope": "office", "name": ""})
    assert len(lines("calendar.override_added")) == 1


def test_the_lkpp_template_change_is_recorded_without_its_text(client, admin):
    from escalation import lkpp

    subject, body = lkpp.default_templates()
    data = {"email_to": "helpdesk-lpsepusat@lkpp.go.id", "addresses": "lkpp.go.id", "ticket_number_pattern": "[0-9]{5,10}",
            "call_centre": "144", "reminder_working_days": "3", "subject_template": subject.strip(),
            "body_template": body + "\nSalam hangat.\n"}
    assert client.post("/eskalasi/templat", data=data).status_code == 302
    assert only("lkpp_template.changed").detail == {"parts": ["body"], "reset": False}
    assert only("settings.changed").detail == {"changes": {"escalation.reminder_working_days": {"old": 2, "new": 3}}}
    assert "Salam hangat" not in everything_written()
    client.post("/eskalasi/templat", data={**data, "action": "reset"})
    assert lines("lkpp_template.changed")[-1].detail == {"reset": True}


def test_a_job_run_by_hand_is_recorded(client, admin):
    client.post("/admin/jobs/sla-sweep/run")
    line = only("job.run")
    assert (line.actor_id, line.target_type, line.target_id, line.detail) == (admin.id, "job", "sla-sweep",
                                                                              {"outcome": "done"})


def test_secret_like_settings_are_recorded_as_changed_only():
    from helpdesk.audit import setting_changes

    changes = setting_changes({"gateway.token": "lama-rahasia", "a.b": 1, "t": "x" * 400},
                              {"gateway.token": "baru-rahasia", "a.b": 2, "t": "y" * 400})
    assert changes == {"gateway.token": "changed", "a.b": {"old": 1, "new": 2}, "t": "changed"}


# -- views of personal data ---------------------------------------------------------------------------------------

def test_register_views_and_downloads_are_recorded_with_period_and_rows(client, login, make_staff, make_ticket):
    make_ticket()
    officer = make_staff(role="helpdesk")
    login(client, officer)
    assert client.get("/register?dari=2026-11-01&sampai=2026-11-30").status_code == 200
    viewed = only("register.viewed")
    assert viewed.actor_id == officer.id and viewed.detail == {"start": "2026-11-01", "end": "2026-11-30", "rows": 1}
    assert client.get("/register.csv?dari=2026-11-01&sampai=2026-11-30").status_code == 200
    assert client.get("/register.xlsx?dari=2026-11-01&sampai=2026-11-30").status_code == 200
    assert [line.detail["format"] for line in lines("register.exported")] == ["csv", "xlsx"]
    assert client.get("/register?dari=2026-11-30&sampai=2026-11-01").status_code == 400  # refused: no line
    assert len(lines("register.viewed")) == 1


@pytest.fixture
def tts_escalation(make_staff, make_ticket, make_requester):
    requester = make_requester(name="Budi Santoso", organization="CV Maju Jaya", spse_role="penyedia")
    requester.npwp, requester.nik = NPWP, NIK
    ticket = make_ticket(status=Status.OPEN, requester=requester,
                         body=f"Akun penyedia NIK {NIK} tidak bisa login.")
    escalation = escalations.escalate_to_lkpp(ticket, actor=make_staff(), channel="tts", reason="Perlu LKPP",
                                              at=RECEIVED_AT + timedelta(hours=1))
    db.session.commit()
    return escalation


def test_the_tts_page_masks_identity_numbers_for_roles_without_access(client, login, make_staff, tts_escalation):
    login(client, make_staff(role="trainer"))
    page = client.get(f"/eskalasi/{tts_escalation.id}/tts").get_data(as_text=True)
    assert NPWP not in page and NIK not in page
    assert "NPWP: ••.•••.•••.•-••1.000" in page and "••••••••••••0123" in page
    assert 'id="identity-masked"' in page
    description = re.search(r'<textarea[^>]*id="tts-deskripsi"[^>]*>(.*?)</textarea>', page, flags=re.DOTALL).group(1)
    assert "••.•••.•••.•-••1.000" in description  # the copy button copies this box: the masked value
    line = only("lkpp_fields.viewed")
    assert line.target_type == "ticket" and line.detail["identity"] == "masked"


def test_the_tts_page_shows_identity_numbers_whole_to_roles_with_access(client, login, make_staff, tts_escalation):
    login(client, make_staff(role="helpdesk"))
    page = client.get(f"/eskalasi/{tts_escalation.id}/tts").get_data(as_text=True)
    assert f"NPWP: {NPWP}" in page and 'id="identity-masked"' not in page
    assert only("lkpp_fields.viewed").detail["identity"] == "whole"
    set_setting("privacy.identity_roles", ["verifikator"])
    db.session.commit()
    with client.application.app_context():  # a fresh settings cache, as the next request has
        page = client.get(f"/eskalasi/{tts_escalation.id}/tts").get_data(as_text=True)
    assert NPWP not in page


def test_the_lkpp_email_still_carries_the_whole_npwp(client, login, make_staff, tts_escalation):
    ticket = tts_escalation.ticket
    escalations.escalate_to_lkpp(ticket, actor=make_staff(role="trainer"), channel="email", reason="Lagi",
                                 at=RECEIVED_AT + timedelta(hours=2))
    db.session.commit()
    message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient.contains("lkpp"))).one()
    assert NPWP in message.body


# -- the page -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["helpdesk", "verifikator", "admin_ppe", "trainer"])
def test_only_admins_and_the_head_read_the_audit_log(client, login, make_staff, role):
    login(client, make_staff(role=role))
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit/export.csv").status_code == 403
    assert lines("audit.exported") == []


def test_the_page_lists_filters_and_pages_newest_first(client, login, make_staff, make_ticket):
    head = make_staff(role="kepala", email="kepala@lpse.example.go.id")
    other = make_staff(role="helpdesk", email="rina@lpse.example.go.id")
    client.post("/login", data={"email": other.email, "password": "salah-sekali"})
    login(client, other)
    client.post("/logout")
    login(client, head)
    page = client.get("/admin/audit").get_data(as_text=True)
    actions = re.findall(r'data-action="([a-z_.]+)"', page)
    assert actions == ["login.succeeded", "logout", "login.succeeded", "login.failed"]
    assert 'id="nav-audit"' in page
    filtered = client.get("/admin/audit?aksi=login.succeeded&pelaku=RINA").get_data(as_text=True)
    assert re.findall(r'data-action="([a-z_.]+)"', filtered) == ["login.succeeded"]
    grouped = client.get("/admin/audit?aksi=login.").get_data(as_text=True)
    assert len(re.findall(r'data-action="login\.', grouped)) == 3
    by_target = client.get(f"/admin/audit?target=staff:{other.id}").get_data(as_text=True)
    assert len(re.findall(r"data-audit-id=", by_target)) == 3
    assert "data-audit-id=" not in client.get("/admin/audit?dari=2020-01-01&sampai=2020-01-31").get_data(as_text=True)
    assert client.get("/admin/audit?dari=kemarin").status_code == 400
    assert client.get("/admin/audit?aksi=drop.table").status_code == 400
    stranger = client.application.test_client()
    for n in range(60):  # a second page
        with client.application.app_context():  # a request of its own: the test's context holds the head's login
            stranger.post("/login", data={"email": f"tamu{n}@luar.example", "password": "x"})
    first = client.get("/admin/audit").get_data(as_text=True)
    assert len(re.findall(r"data-audit-id=", first)) == 50
    next_link = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(next_link).get_data(as_text=True)
    assert len(re.findall(r"data-audit-id=", second)) == 64 - 50
    assert 'rel="next"' not in second


def test_the_export_is_csv_of_the_filtered_lines_and_is_itself_recorded(client, admin, make_staff):
    officer = make_staff(email="rina@lpse.example.go.id")
    with client.application.app_context():  # another browser, in a request of its own
        client.application.test_client().post("/login", data={"email": "=HYPERLINK(\"x\")", "password": "x"})
    client.post("/admin/staff/new", data={"email": "baru@lpse.example.go.id", "name": "Baru", "role": "helpdesk",
                                          "password": "Sandi-Baru-123"})
    response = client.get("/admin/audit/export.csv?aksi=login.")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["id", "time_utc", "actor", "actor_id", "action"]
    assert [row[4] for row in rows[1:]] == ["login.failed", "login.succeeded"]  # staff.created filtered out
    assert rows[1][2].startswith("'=")  # a formula typed as the email is not run by a spreadsheet
    exported = only("audit.exported")
    assert exported.actor_id == admin.id and exported.detail == {"format": "csv", "rows": 2,
                                                                 "filters": {"aksi": "login."}}
    assert officer.id  # another officer of the office exists; their lines would show too


# -- the command line ---------------------------------------------------------------------------------------------

def test_cli_staff_and_backup_commands_are_recorded_with_the_os_user(app, office, tmp_path):
    import getpass

    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["staff", "add", "cli@lpse.example.go.id", "--name", "Dari CLI", "--role", "kepala",
                                 "--password", "Sandi-CLI-123"])
    assert result.exit_code == 0, result.output
    line = only("staff.created")
    assert line.actor_id is None and line.actor_label == f"cli:{getpass.getuser()}" and line.ip is None
    assert line.detail == {"email": "cli@lpse.example.go.id", "role": "kepala"}
    result = runner.invoke(cli, ["backup", str(tmp_path)])
    assert result.exit_code == 0, result.output
    backup = only("backup.created")
    assert backup.actor_label == f"cli:{getpass.getuser()}" and backup.target_id.startswith("helpdesk-backup-")
    assert "Sandi-CLI-123" not in everything_written() and PASSWORD not in everything_written()
