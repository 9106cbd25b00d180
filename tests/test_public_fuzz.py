"""Every public endpoint (kiosk, status page, FAQ, automatic-answer links, Twilio webhooks, login) answers malformed
input with a clear 4xx page, never a 500: a deterministic fuzzing run over methods, bodies and content types."""
from __future__ import annotations

import random

import pytest

PUBLIC_POSTS = ("/login", "/kiosk/tst", "/status", "/faq/jawaban/x.y.z", "/twilio/voice", "/twilio/voice/dial-done",
                "/twilio/voice/recorded", "/twilio/voice/status", "/twilio/voice/desk-answered", "/twilio/messages",
                "/twilio/messages/status")
PUBLIC_GETS = ("/faq", "/faq/kunci-tidak-ada", "/faq/saran", "/status", "/status/abc", "/kiosk/tst",
               "/kiosk/tst/saran", "/kiosk/tst/tanda-terima/abc", "/display/tst", "/display/tst/state",
               "/faq/jawaban/abc")
SEED = 20261206


def garbage(rng: random.Random) -> bytes:
    pieces = [b"\x00", b"\xff\xfe", b"%", b"%ZZ", b"&&==", b"a=" + b"x" * rng.randint(0, 3000), b"\r\n",
              "ñ€😀".encode(), b"<script>alert(1)</script>", b"{\"a\":", b"[1,2", b"'; DROP TABLE ticket;--"]
    return b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))


@pytest.fixture
def fuzz_client(app, office):
    app.config.update(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)  # reach the handlers, not just the guards
    return app.test_client()


def test_public_posts_never_answer_500(fuzz_client):
    rng = random.Random(SEED)
    content_types = ("application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/json",
                     "text/plain", "application/octet-stream", "")
    for _ in range(250):
        path = rng.choice(PUBLIC_POSTS)
        response = fuzz_client.post(path, data=garbage(rng), content_type=rng.choice(content_types),
                                    headers={"X-Twilio-Signature": rng.choice(["", "x", "=" * 30])})
        assert response.status_code < 500, (path, response.status_code)


def test_public_gets_with_odd_queries_never_answer_500(fuzz_client):
    rng = random.Random(SEED + 1)
    for _ in range(150):
        path = rng.choice(PUBLIC_GETS)
        query = garbage(rng).decode("latin-1")
        response = fuzz_client.get(path, query_string={"q": query, "kode": query[:50], "pilihan": query[:5]})
        assert response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize("body", ['"x"', "[1, 2]", '{"email": 1}', "{"])
def test_a_json_body_is_refused_with_415(fuzz_client, english, body):
    response = fuzz_client.post("/login", data=body, content_type="application/json")
    assert response.status_code == 415 and "takes form data only" in response.get_data(as_text=True)


def test_signed_twilio_webhooks_with_odd_parameters_never_answer_500(fuzz_client, app, office):
    """Past the signature check: parameters Twilio never sends that way (missing, empty, huge, odd numbers)."""
    from twilio.request_validator import RequestValidator

    token = "fuzz-auth-token"
    app.config.update(TWILIO_AUTH_TOKEN=token, TWILIO_ACCOUNT_SID="AC" + "0" * 32)
    office.phone = "+62215550100"
    rng = random.Random(SEED + 2)
    names = ("CallSid", "From", "To", "Body", "CallStatus", "DialCallStatus", "CallDuration", "RecordingUrl",
             "RecordingSid", "RecordingDuration", "MessageSid", "MessageStatus", "NumMedia", "MediaUrl0",
             "MediaContentType0", "ErrorCode", "ProfileName", "ParentCallSid", "SmsMessageSid")
    values = ("", "+62215550100", "+6281234567890", "0812", "anonymous", "-1", "99999999999", "completed",
              "no-answer", "CA" + "1" * 32, "SM" + "2" * 32, "x" * 5000, "ñ€😀", "<script>", "https://evil.example/x")
    paths = [path for path in PUBLIC_POSTS if path.startswith("/twilio")]
    for _ in range(200):
        path = rng.choice(paths)
        params = {name: rng.choice(values) for name in rng.sample(names, rng.randint(0, len(names)))}
        signature = RequestValidator(token).compute_signature("http://localhost" + path, params)
        response = fuzz_client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        assert response.status_code < 500, (path, params, response.status_code)


def test_staff_pages_run_under_a_csp_without_inline_script_or_style(client, login, make_staff):
    login(client, make_staff(role="admin"))
    for path in ("/", "/admin/settings", "/laporan/harian", "/dasbor", "/admin/kalender"):
        response = client.get(path, follow_redirects=True)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert "frame-ancestors 'none'" in policy, path
        assert " style=\"" not in response.get_data(as_text=True), path


def test_an_idle_officer_is_signed_out(app, client, login, make_staff):
    import time

    login(client, make_staff(role="helpdesk"))
    assert client.get("/phone/new").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 5 * 3600  # five hours without a request
    response = client.get("/phone/new")
    assert response.status_code == 302 and response.location.startswith("/login")
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_session_cookies_are_secure_behind_https():
    from helpdesk import create_app

    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "PUBLIC_BASE_URL": "https://helpdesk.example.go.id"}
                      ).config["SESSION_COOKIE_SECURE"] is True
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SESSION_COOKIE_SECURE"] is False
