"""The admin settings page: email, phone and SMS, SLA; only admins; bad input saves nothing."""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from helpdesk.extensions import db
from helpdesk.models import Setting
from helpdesk.settings import DEFAULTS, get_setting

VALID = {
    "auto_replies": "y",
    "auto_reply_daily_limit": "10",
    "signature": "Helpdesk LPSE Kabupaten Uji",
    "desk_numbers": "",
    "ring_seconds": "15",
    "voicemail_max_seconds": "120",
    "ticket_number_notice": "y",
    "follow_up_working_days": "1",
    "faq_auto_answer": "y",
    "faq_auto_answer_threshold": "0.87",
    "warning_percent": "75",
    "breach_action": "notify",
    "breach_role": "admin_ppe",
    "resolution_high": "1",
    "resolution_medium": "3",
    "resolution_other": "5",
    "office_hours_only": "y",
    "auto_close_working_days": "5",
    "alerts_recipient": "kepala",
    "alerts_on_call_phone": "",
    "alerts_start": "07:00",
    "alerts_end": "21:00",
    "report_time": "07:30",
    "report_recipients": "",
    "identity_roles": ["helpdesk", "verifikator", "admin_ppe"],
    "retention_months": "24",
    "retention_scope": "identity",
    "retention_identity_pattern": DEFAULTS["retention.identity_pattern"],
}


def stored() -> dict[str, object]:
    db.session.expire_all()
    return {row.key: row.value for row in db.session.query(Setting)}


@pytest.fixture
def admin(client, login, make_staff):
    staff = make_staff(role="admin", name="Admin Kantor")
    login(client, staff)
    return staff


def post(client, **changes):
    return client.post("/admin/settings", data={**VALID, **changes})


@pytest.mark.parametrize("role", ["helpdesk", "kepala", "verifikator"])
def test_only_admins_see_and_change_settings(client, login, make_staff, role):
    login(client, make_staff(role=role))
    assert client.get("/admin/settings").status_code == 403
    assert post(client, desk_numbers="081234567890").status_code == 403
    assert stored() == {}


def test_settings_need_a_login(client):
    response = client.get("/admin/settings")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_page_shows_the_current_values_in_sections(client, admin):
    page = client.get("/admin/settings").get_data(as_text=True)
    for section in ("settings-email", "settings-phone", "settings-sla"):
        assert f'id="{section}"' in page
    assert re.search(rf">\s*{DEFAULTS['mail.signature']}</textarea>", page)
    assert re.search(r'name="ring_seconds"[^>]*value="15"', page)
    assert 'href="/admin/settings"' in page  # the admin's navigation links here


def test_admin_saves_desk_numbers_as_e164_and_is_recorded(client, admin):
    response = post(client, desk_numbers="0812 3456 7890\n\n  +62 21 3190 5123 \n6281234567890\n",
                    ring_seconds="20", signature="  Salam, Helpdesk LPSE Uji  ")
    assert response.status_code == 302 and response.location == "/admin/settings"
    values = stored()
    assert values["phone.desk_numbers"] == ["+6281234567890", "+622131905123"]  # duplicates kept once
    assert values["phone.ring_seconds"] == 20
    assert values["mail.signature"] == "Salam, Helpdesk LPSE Uji"
    assert "sla.follow_up_working_days" not in values  # unchanged values are not rewritten
    row = db.session.get(Setting, "phone.desk_numbers")
    assert row.updated_by_id == admin.id
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "alert-success" in page and 'id="settings-last-change"' in page and "Admin Kantor" in page
    assert "+6281234567890\n+622131905123</textarea>" in page
    assert get_setting("phone.desk_numbers") == ["+6281234567890", "+622131905123"]


def test_switches_turn_off(client, admin):
    data = {**VALID}
    del data["auto_replies"], data["ticket_number_notice"]
    assert client.post("/admin/settings", data=data).status_code == 302
    values = stored()
    assert values["mail.auto_replies"] is False and values["sms.ticket_number_notice"] is False


def test_invalid_desk_number_is_refused_naming_the_line_and_nothing_is_stored(client, admin):
    response = post(client, desk_numbers="0812 3456 7890\n12345\n", ring_seconds="30")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'invalid-feedback">[^<]*\b2\b[^<]*12345', page)  # line 2, as typed
    assert "0812 3456 7890\n12345" in page  # the admin's input is kept for correcting
    assert stored() == {}


def test_too_many_desk_numbers_are_refused(client, admin):
    numbers = "\n".join(f"0812345678{n:02d}" for n in range(11))
    assert post(client, desk_numbers=numbers).status_code == 422
    assert stored() == {}


@pytest.mark.parametrize("field, bad, good", [
    ("ring_seconds", ["4", "61", "-1", "abc", "", "1.5", "9" * 5000], ["5", "60"]),
    ("voicemail_max_seconds", ["9", "601"], ["10", "600"]),
    ("auto_reply_daily_limit", ["-1", "101"], ["0", "100"]),
    ("follow_up_working_days", ["0", "6"], ["1", "5"]),
])
def test_number_ranges_are_enforced(client, admin, field, bad, good):
    key = next(key for key in DEFAULTS if key.endswith(field))
    for value in bad:
        response = post(client, **{field: value})
        assert response.status_code == 422, (field, value)
        assert re.search(rf'name="{field}"', response.get_data(as_text=True))
        assert stored() == {}, (field, value)
    for value in good:
        assert post(client, **{field: value}).status_code == 302, (field, value)
        assert stored().get(key, DEFAULTS[key]) == int(value)


def test_blank_signature_is_refused(client, admin):
    assert post(client, signature="   ").status_code == 422
    assert stored() == {}


def test_new_working_days_setting_applies_to_new_tickets(client, admin, make_ticket):
    assert post(client, follow_up_working_days="2").status_code == 302
    ticket = make_ticket()  # received Tue 24 Nov 2026 10:00 WIB
    assert ticket.follow_up_due_at.astimezone(ZoneInfo("Asia/Jakarta")).day == 26  # Thursday, two days on


def test_the_faq_auto_answer_threshold_is_set_within_bounds(client, login, make_staff):
    from helpdesk.settings import get_setting

    login(client, make_staff(role="admin"))
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'id="settings-faq"' in page and 'value="0.87"' in page
    assert post(client, faq_auto_answer_threshold="1.5").status_code == 422
    assert get_setting("faq.auto_answer_threshold") == 0.87
    data = {**VALID, "faq_auto_answer_threshold": "0.92"}
    del data["faq_auto_answer"]
    assert client.post("/admin/settings", data=data).status_code == 302
    db.session.expire_all()
    assert get_setting("faq.auto_answer_threshold") == 0.92 and get_setting("faq.auto_answer") is False


def test_sla_enforcement_settings_are_stored_in_their_own_shapes(client, admin):
    response = post(client, warning_percent="80", breach_action="assign_role", breach_role="admin_ppe",
                    resolution_high="2", resolution_medium="4", resolution_other="7", office_hours_only="",
                    auto_close_working_days="0", alerts_sms="y", alerts_recipient="on_call",
                    alerts_on_call_phone="0812 3456 7890", alerts_start="06:30", alerts_end="22:00")
    assert response.status_code == 302
    values = stored()
    assert values["sla.warning_share"] == 0.8 and values["sla.breach_action"] == "assign_role"
    assert values["sla.resolution_targets"] == [
        {"ticket_type": "*", "priority": "high", "working_days": 2},
        {"ticket_type": "*", "priority": "medium", "working_days": 4},
        {"ticket_type": "*", "priority": "*", "working_days": 7}]
    assert values["notify.office_hours_only"] is False and values["tickets.auto_close_working_days"] == 0
    assert values["alerts.on_call_phone"] == "+6281234567890" and values["alerts.hours"] == ["06:30", "22:00"]
    page = client.get("/admin/settings").get_data(as_text=True)
    assert re.search(r'name="warning_percent"[^>]*value="80"', page)
    assert re.search(r'name="resolution_other"[^>]*value="7"', page)


@pytest.mark.parametrize("changes", [
    {"alerts_sms": "y", "alerts_recipient": "on_call", "alerts_on_call_phone": ""},
    {"alerts_on_call_phone": "bukan nomor"},
    {"alerts_start": "21:00", "alerts_end": "07:00"},
    {"alerts_start": "7 pagi"},
    {"warning_percent": "100"},
    {"breach_role": "admin"},
], ids=["on-call-missing", "bad-number", "window-backwards", "bad-time", "share-too-high", "admin-role"])
def test_bad_sla_settings_save_nothing(client, admin, changes):
    response = post(client, **changes)
    assert response.status_code == 422
    assert stored() == {}


def test_daily_report_recipients_are_checked_and_stored_as_a_list(client, admin):
    assert post(client, report_recipients="kepala@lpse.example.go.id\nbukan alamat").status_code == 422
    assert stored() == {}
    response = post(client, report_time="06:45",
                    report_recipients=" Kepala@LPSE.example.go.id \n\nukpbj@lpse.example.go.id\n")
    assert response.status_code == 302
    values = stored()
    assert values["reports.daily_time"] == "06:45"
    assert values["reports.daily_recipients"] == ["kepala@lpse.example.go.id", "ukpbj@lpse.example.go.id"]


def test_privacy_and_retention_settings_are_shown_and_stored(client, admin):
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'id="settings-privacy"' in page
    for role in ("helpdesk", "verifikator", "admin_ppe"):
        assert re.search(rf'<input checked[^>]*name="identity_roles"[^>]*value="{role}"', page), role
    assert not re.search(r'<input checked[^>]*name="identity_roles"[^>]*value="kepala"', page)
    assert 'value="admin"' not in re.search(r'id="identity-roles".*?</fieldset>', page, flags=re.DOTALL).group(0)
    assert re.search(r'name="retention_months"[^>]*value="24"', page)
    response = post(client, identity_roles=["verifikator", "kepala"], retention_months="0", retention_scope="all",
                    retention_identity_pattern="ktp|npwp")
    assert response.status_code == 302
    values = stored()
    assert values["privacy.identity_roles"] == ["verifikator", "kepala"]
    assert values["retention.months"] == 0 and values["retention.scope"] == "all"
    assert values["retention.identity_pattern"] == "ktp|npwp"
    data = {**VALID}
    del data["identity_roles"]  # every box unticked: only administrators see the numbers whole
    assert client.post("/admin/settings", data=data).status_code == 302
    assert stored()["privacy.identity_roles"] == []


@pytest.mark.parametrize("changes", [
    {"retention_months": "121"}, {"retention_months": "-1"}, {"retention_months": ""},
    {"retention_scope": "everything"}, {"identity_roles": ["admin"]}, {"identity_roles": ["root"]},
    {"retention_identity_pattern": ""},
], ids=["months-high", "months-negative", "months-blank", "scope", "role-admin", "role-unknown", "pattern-blank"])
def test_bad_privacy_and_retention_settings_save_nothing(client, admin, changes):
    assert post(client, **changes).status_code == 422
    assert stored() == {}


def test_a_retention_pattern_that_does_not_compile_is_refused_with_the_error(client, admin, english):
    response = post(client, retention_identity_pattern="ktp|(npwp")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'name="retention_identity_pattern"[^>]*is-invalid|is-invalid[^>]*name="retention_identity_pattern"',
                     page)
    assert "Not a valid regular expression: missing ), unterminated subpattern" in page
    assert 'value="ktp|(npwp"' in page  # kept for correcting
    assert stored() == {}


def test_a_settings_change_writes_one_audit_line_with_old_and_new_values(client, admin):
    from helpdesk.models import AuditEntry

    assert post(client, ring_seconds="20", identity_roles=["verifikator"]).status_code == 302
    line = db.session.query(AuditEntry).filter_by(action="settings.changed").one()
    assert line.actor_id == admin.id and line.target_type == "setting"
    assert line.detail["changes"] == {
        "mail.signature": {"old": "Helpdesk LPSE", "new": "Helpdesk LPSE Kabupaten Uji"},
        "phone.ring_seconds": {"old": 15, "new": 20},
        "privacy.identity_roles": {"old": ["helpdesk", "verifikator", "admin_ppe"], "new": ["verifikator"]}}
    assert post(client, ring_seconds="20", identity_roles=["verifikator"]).status_code == 302  # nothing changed
    assert db.session.query(AuditEntry).filter_by(action="settings.changed").count() == 1
    assert post(client, ring_seconds="4").status_code == 422  # refused: no setting and no audit line
    assert db.session.query(AuditEntry).filter_by(action="settings.changed").count() == 1
