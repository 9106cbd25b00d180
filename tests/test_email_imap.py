"""The IMAP transport (channels/email/imap.py) against a real Dovecot on a loopback port.

Messages go in with APPEND through imapclient, so UIDs, flags, folders and INTERNALDATE are the server's own.
Besides today's Dovecot the tests run an "old server" that advertises neither MOVE, IDLE nor NAMESPACE, and
one without UIDPLUS either, to exercise the fallbacks.
"""
from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from channels.email.imap import FetchedMessage, ImapError, ImapLoginError, ImapSession, MailboxConfig

from .servers.dovecot import OLD_SERVER_CAPABILITIES, DovecotError, DovecotServer, session_server

WIB = timezone(timedelta(hours=7))
NO_UIDPLUS_CAPABILITIES = OLD_SERVER_CAPABILITIES.replace(" UIDPLUS", "")


# -- fixtures (dovecot_server and dovecot come from conftest) --------------------------------------------

@pytest.fixture(scope="session")
def old_dovecot_server() -> Iterator[DovecotServer]:
    yield from session_server(imap_capability=OLD_SERVER_CAPABILITIES)


@pytest.fixture(scope="session")
def oldest_dovecot_server() -> Iterator[DovecotServer]:
    yield from session_server(imap_capability=NO_UIDPLUS_CAPABILITIES)


@pytest.fixture(params=["move", "copy-expunge", "copy-only"])
def any_dovecot(request: pytest.FixtureRequest) -> DovecotServer:
    """An empty mailbox on a server with MOVE; with UIDPLUS but no MOVE; with neither."""
    server_fixture = {"move": "dovecot_server", "copy-expunge": "old_dovecot_server",
                      "copy-only": "oldest_dovecot_server"}[request.param]
    return request.getfixturevalue(server_fixture).fresh_mailbox()


@pytest.fixture(scope="session")
def cpanel_dovecot_server() -> Iterator[DovecotServer]:
    """Folders under "INBOX.", as cPanel hosting serves them."""
    yield from session_server(namespace=("INBOX.", "."))


@pytest.fixture(scope="session")
def slash_dovecot_server() -> Iterator[DovecotServer]:
    yield from session_server(namespace=("", "/"))


def config_for(server: DovecotServer, **overrides) -> MailboxConfig:
    values = {"name": "lpse-uji", "host": server.host, "port": server.port, "user": server.user,
              "password": server.password, "security": "plain", "timeout": 5.0}
    values.update(overrides)
    return MailboxConfig(**values)


def make_message(n: int, *, message_id: str | None = None, body_bytes: int = 0) -> bytes:
    """A real-looking inbound email: CRLF lines, 8-bit text in two charsets, an optional padded body."""
    message_id = message_id or f"<pertanyaan-{n}@penyedia.example.co.id>"
    padding = b"".join(b"Baris pengisi nomor %06d agar pesan cukup besar.\r\n" % i for i in range(body_bytes // 50))
    return (
        b"From: =?utf-8?q?Hendra_Wijaya?= <hendra@bangun.example.co.id>\r\n"
        b"To: helpdesk@lpse.example.go.id\r\n"
        b"Subject: Tidak bisa unggah dokumen penawaran #" + str(n).encode() + b"\r\n"
        b"Message-ID: " + message_id.encode() + b"\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0700\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"batas\"\r\n"
        b"\r\n"
        b"--batas\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Selamat pagi, saat unggah dokumen muncul galat \xe2\x80\x9cberkas rusak\xe2\x80\x9d.\r\n"
        + padding +
        b"--batas\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
        b"Terima kasih \xe9\xe8 \xff\r\n"
        b"--batas--\r\n"
    )


def open_and_close(config: MailboxConfig) -> None:
    with ImapSession(config):
        pass


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fetch_rounds(caplog: pytest.LogCaptureFixture) -> list[list[int]]:
    """The UIDs of every body FETCH sent, as seen in imapclient's protocol log."""
    rounds = []
    for record in caplog.records:
        found = re.search(r"UID FETCH ([\d,:]+) \(BODY\.PEEK\[\] INTERNALDATE\)", record.getMessage())
        if found:
            rounds.append(expand_uid_set(found.group(1)))
    return rounds


def expand_uid_set(text: str) -> list[int]:
    uids: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        uids.extend(range(int(low), int(high or low) + 1))
    return uids


# -- configuration -----------------------------------------------------------------------------------------

def test_default_ports_follow_the_security_mode():
    assert config_for_port(None, "ssl") == 993
    assert config_for_port(None, "starttls") == 143
    assert config_for_port(None, "plain") == 143
    assert config_for_port(10993, "ssl") == 10993


def config_for_port(port: int | None, security: str) -> int:
    return MailboxConfig(name="m", host="imap.example.go.id", port=port, user="u", password="p",
                         security=security).effective_port


def test_an_unknown_security_mode_is_refused_and_the_password_stays_out_of_repr():
    with pytest.raises(ValueError, match="security"):
        MailboxConfig(name="m", host="h", port=None, user="u", password="p", security="tls")
    config = MailboxConfig(name="m", host="h", port=None, user="u", password="sangat-rahasia")
    assert "sangat-rahasia" not in repr(config)


# -- reading -----------------------------------------------------------------------------------------------

def test_select_returns_the_folders_uidvalidity_and_it_stays_the_same(dovecot):
    dovecot.append(make_message(1))
    with ImapSession(config_for(dovecot)) as session:
        first = session.select()
        assert session.select() == first
    with ImapSession(config_for(dovecot)) as session:
        assert session.select() == first
    with dovecot.client() as client:
        assert client.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"] == first


def test_iter_new_yields_every_message_byte_exact_in_uid_order_with_its_internaldate(dovecot):
    received = [datetime(2026, 11, 20, 8, 15, 30, tzinfo=WIB), datetime(2026, 11, 19, 23, 59, 59, tzinfo=UTC),
                datetime(2026, 11, 21, 0, 0, 1, tzinfo=timezone(timedelta(hours=9)))]
    sent = [make_message(n, body_bytes=n * 3000) for n in range(3)]
    uids = [dovecot.append(raw, internaldate=at) for raw, at in zip(sent, received)]

    with ImapSession(config_for(dovecot)) as session:
        session.select()
        fetched = list(session.iter_new(0))

    assert [m.uid for m in fetched] == uids == sorted(uids)
    assert [sha256(m.raw) for m in fetched] == [sha256(raw) for raw in sent]
    assert [m.size for m in fetched] == [len(raw) for raw in sent]
    assert [m.internaldate for m in fetched] == received
    assert all(m.internaldate.utcoffset() == timedelta(0) for m in fetched)


def test_iter_new_yields_only_uids_above_the_given_one(dovecot):
    uids = [dovecot.append(make_message(n)) for n in range(4)]
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert [m.uid for m in session.iter_new(uids[1])] == uids[2:]


def test_iter_new_after_the_last_uid_yields_nothing(dovecot):
    # "UID SEARCH UID n:*" answers the highest UID even when n is above it.
    uids = [dovecot.append(make_message(n)) for n in range(2)]
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert list(session.iter_new(uids[-1])) == []
        assert list(session.iter_new(uids[-1] + 100)) == []


def test_iter_new_on_an_empty_folder_yields_nothing(dovecot):
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert list(session.iter_new(0)) == []


def test_bodies_are_fetched_in_batches_of_batch_size(dovecot, caplog):
    uids = [dovecot.append(make_message(n)) for n in range(7)]
    caplog.set_level(logging.DEBUG, logger="imapclient")
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        fetched = [m.uid for m in session.iter_new(0, batch_size=3)]
    assert fetched == uids
    assert fetch_rounds(caplog) == [uids[0:3], uids[3:6], uids[6:7]]


def test_bodies_are_fetched_in_batches_of_at_most_batch_bytes_and_a_large_message_comes_alone(dovecot, caplog):
    small = [make_message(n, body_bytes=1000) for n in range(4)]
    large = make_message(9, body_bytes=20_000)
    uids = [dovecot.append(raw) for raw in small[:2] + [large] + small[2:]]
    caplog.set_level(logging.DEBUG, logger="imapclient")
    limit = 2 * len(small[0]) + 10  # two small messages fit, a third does not
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        fetched = list(session.iter_new(0, batch_bytes=limit))
    assert [m.uid for m in fetched] == uids
    assert fetch_rounds(caplog) == [uids[0:2], uids[2:3], uids[3:5]]


def test_fetching_does_not_mark_messages_seen(dovecot):
    dovecot.append(make_message(1))
    dovecot.append(make_message(2), flags=["\\Flagged"])
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert len(list(session.iter_new(0))) == 2
    stored = dovecot.fetch_all()
    assert [sorted(m.flags - {"\\Recent"}) for m in stored.values()] == [[], ["\\Flagged"]]


def test_a_message_expunged_by_another_client_during_iteration_is_skipped(dovecot):
    uids = [dovecot.append(make_message(n)) for n in range(3)]
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        messages = session.iter_new(0, batch_size=1)  # sizes of all three are known before the first body
        first = next(messages)
        with dovecot.client() as other:
            other.select_folder("INBOX")
            other.delete_messages([uids[1]])
            other.expunge()
        rest = list(messages)
    assert [first.uid] + [m.uid for m in rest] == [uids[0], uids[2]]


def test_messages_can_be_filed_and_searched_while_iterating(dovecot):
    uids = [dovecot.append(make_message(n)) for n in range(5)]
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        seen: list[FetchedMessage] = []
        for n, message in enumerate(session.iter_new(0, batch_size=2)):
            seen.append(message)
            session.move([message.uid], "Helpdesk/Diproses")
            filed = session.search_message_id("Helpdesk/Diproses", f"<pertanyaan-{n}@penyedia.example.co.id>")
            assert len(filed) == 1
    assert [m.uid for m in seen] == uids
    assert dovecot.folder_uids("INBOX") == []
    assert len(dovecot.folder_uids("Helpdesk.Diproses")) == 5


# -- folders and filing ------------------------------------------------------------------------------------

def test_ensure_folder_uses_the_servers_delimiter_and_is_idempotent(dovecot):
    with ImapSession(config_for(dovecot)) as session:
        assert session.ensure_folder("Helpdesk/Diproses") == "Helpdesk.Diproses"
        assert session.ensure_folder("Helpdesk/Diproses") == "Helpdesk.Diproses"
    with ImapSession(config_for(dovecot)) as session:  # a new session finds the folder already there
        assert session.ensure_folder("Helpdesk/Diproses") == "Helpdesk.Diproses"
        assert session.ensure_folder("Helpdesk/Pending") == "Helpdesk.Pending"
    assert sorted(dovecot.folders()) == [("Helpdesk", "."), ("Helpdesk.Diproses", "."), ("Helpdesk.Pending", "."),
                                         ("INBOX", ".")]
    with dovecot.client() as client:
        subscribed = {name for _flags, _delimiter, name in client.list_sub_folders()}
    assert {"Helpdesk.Diproses", "Helpdesk.Pending"} <= subscribed


def test_ensure_folder_without_namespace_support_reads_the_delimiter_from_list(old_dovecot_server):
    server = old_dovecot_server.fresh_mailbox()
    with ImapSession(config_for(server)) as session:
        assert session.ensure_folder("Helpdesk/Pending") == "Helpdesk.Pending"
    assert ("Helpdesk.Pending", ".") in server.folders()


@pytest.mark.parametrize(("server_fixture", "processed", "pending"), [
    ("cpanel_dovecot_server", "INBOX.Helpdesk.Diproses", "INBOX.Helpdesk.Pending"),
    ("slash_dovecot_server", "Helpdesk/Diproses", "Helpdesk/Pending"),
])
def test_folders_follow_the_servers_namespace_prefix_and_delimiter(request, server_fixture, processed, pending):
    server = request.getfixturevalue(server_fixture).fresh_mailbox()
    uid = server.append(make_message(1, message_id="<ns@penyedia.example.co.id>"))
    with ImapSession(config_for(server)) as session:
        session.select()
        assert [m.uid for m in session.iter_new(0)] == [uid]
        assert session.ensure_folder("Helpdesk/Diproses") == processed
        session.move([uid], "Helpdesk/Diproses")
        [filed] = session.search_message_id("Helpdesk/Diproses", "<ns@penyedia.example.co.id>")
        session.move_between("Helpdesk/Diproses", [filed], "Helpdesk/Pending")
    assert server.folder_uids("INBOX") == []
    assert server.folder_uids(processed) == []
    assert len(server.folder_uids(pending)) == 1


def test_move_makes_the_folder_again_when_someone_deleted_it(any_dovecot):
    server = any_dovecot
    uids = [server.append(make_message(n)) for n in range(2)]
    with ImapSession(config_for(server)) as session:
        session.select()
        session.move([uids[0]], "Helpdesk/Diproses")
        with server.client() as staff_mail_client:
            staff_mail_client.delete_folder("Helpdesk.Diproses")
        session.move([uids[1]], "Helpdesk/Diproses")
    assert len(server.folder_uids("Helpdesk.Diproses")) == 1


def test_move_moves_exactly_the_given_uids(any_dovecot, caplog):
    server = any_dovecot
    sent = [make_message(n) for n in range(5)]
    uids = [server.append(raw) for raw in sent]
    flagged_by_someone = server.append(make_message(9), flags=["\\Deleted"])

    caplog.set_level(logging.DEBUG, logger="imapclient")
    with ImapSession(config_for(server)) as session:
        session.select()
        session.move([uids[3], uids[1]], "Helpdesk/Diproses")
    commands = " ".join(record.getMessage() for record in caplog.records)
    assert ("UID MOVE" in commands) == (server.imap_capability is None)

    inbox = server.fetch_all("INBOX")
    live = [uid for uid, message in inbox.items() if "\\Deleted" not in message.flags]
    assert live == [uids[0], uids[2], uids[4]]
    assert flagged_by_someone in inbox  # never expunged by us
    moved = server.fetch_all("Helpdesk.Diproses")
    assert sorted(sha256(m.raw) for m in moved.values()) == sorted(sha256(sent[i]) for i in (1, 3))
    if server.imap_capability == NO_UIDPLUS_CAPABILITIES:
        assert set(inbox) == {*uids, flagged_by_someone}  # originals stay, flagged \Deleted
    else:
        assert set(inbox) == {uids[0], uids[2], uids[4], flagged_by_someone}


def test_moving_nothing_does_nothing(dovecot):
    dovecot.append(make_message(1))
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        session.move([], "Helpdesk/Diproses")
    assert dovecot.folder_uids("INBOX") == [1]
    assert dovecot.folder_uids("Helpdesk.Diproses") == []


def test_search_message_id_finds_a_filed_message_by_its_exact_message_id(dovecot):
    dovecot.append(make_message(1, message_id="<abc@lpse.example.go.id>"))
    dovecot.append(make_message(2, message_id="<abc@lpse.example.go.id.evil>"))  # contains the first as substring
    dovecot.append(make_message(3, message_id="<lain%(aneh)@lpse.example.go.id>"))
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        session.move([1, 2, 3], "Helpdesk/Diproses")
        assert session.search_message_id("INBOX", "<abc@lpse.example.go.id>") == []
        found = session.search_message_id("Helpdesk/Diproses", "<abc@lpse.example.go.id>")
        assert len(found) == 1
        assert session.search_message_id("Helpdesk/Diproses", " abc@lpse.example.go.id ") == found
        assert len(session.search_message_id("Helpdesk/Diproses", "<lain%(aneh)@lpse.example.go.id>")) == 1
        assert session.search_message_id("Helpdesk/Diproses", "<>") == []
        assert session.search_message_id("Helpdesk/Tidak-Ada", "<abc@lpse.example.go.id>") == []
    assert sha256(dovecot.fetch_all("Helpdesk.Diproses")[found[0]].raw) == sha256(
        make_message(1, message_id="<abc@lpse.example.go.id>"))


def test_move_between_refiles_from_processed_to_pending_and_back(any_dovecot):
    server = any_dovecot
    server.append(make_message(1, message_id="<tunda@penyedia.example.co.id>"))
    with ImapSession(config_for(server)) as session:
        session.select()
        session.move([1], "Helpdesk/Diproses")
        [processed] = session.search_message_id("Helpdesk/Diproses", "<tunda@penyedia.example.co.id>")
        session.move_between("Helpdesk/Diproses", [processed], "Helpdesk/Pending")
        [pending] = session.search_message_id("Helpdesk/Pending", "<tunda@penyedia.example.co.id>")
        left_behind = session.search_message_id("Helpdesk/Diproses", "<tunda@penyedia.example.co.id>")
        # Without MOVE and UIDPLUS the original stays, flagged \Deleted.
        assert left_behind == ([processed] if server.imap_capability == NO_UIDPLUS_CAPABILITIES else [])
        session.move_between("Helpdesk/Pending", [pending], "Helpdesk/Diproses")
        back = session.search_message_id("Helpdesk/Diproses", "<tunda@penyedia.example.co.id>")
    live = [uid for uid, m in server.fetch_all("Helpdesk.Diproses").items() if "\\Deleted" not in m.flags]
    assert back[-1] in live and len(live) == 1
    assert [m for m in server.fetch_all("Helpdesk.Pending").values() if "\\Deleted" not in m.flags] == []


# -- waiting for mail --------------------------------------------------------------------------------------

def test_wait_for_new_returns_true_soon_after_mail_arrives_and_the_session_stays_usable(dovecot):
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert session.has_idle
        arrival = threading.Timer(0.3, dovecot.append, args=(make_message(1),))
        started = time.monotonic()
        arrival.start()
        try:
            assert session.wait_for_new(10) is True
        finally:
            arrival.join()
        assert time.monotonic() - started < 5
        assert [m.uid for m in session.iter_new(0)] == [1]


def test_mail_that_arrived_before_the_wait_began_is_reported(dovecot):
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        assert list(session.iter_new(0)) == []
        dovecot.append(make_message(1))
        assert session.wait_for_new(0) is True  # the server tells on entering or leaving IDLE
        assert session.wait_for_new(0) is False  # and only once


def test_wait_for_new_returns_false_when_nothing_arrives(dovecot):
    with ImapSession(config_for(dovecot)) as session:
        session.select()
        started = time.monotonic()
        assert session.wait_for_new(0.5) is False
        assert time.monotonic() - started >= 0.5
        session.select()  # IDLE was ended: the session takes commands again


def test_wait_for_new_ends_when_the_stop_event_is_set(dovecot):
    stop = threading.Event()
    with ImapSession(config_for(dovecot), stop=stop) as session:
        session.select()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        assert session.wait_for_new(30) is False
        assert time.monotonic() - started < 5
        session.select()


def test_without_idle_wait_for_new_sleeps_and_returns_false(old_dovecot_server):
    server = old_dovecot_server.fresh_mailbox()
    stop = threading.Event()
    with ImapSession(config_for(server), stop=stop) as session:
        session.select()
        assert not session.has_idle
        started = time.monotonic()
        assert session.wait_for_new(0.3) is False
        assert time.monotonic() - started >= 0.3
        stop.set()
        started = time.monotonic()
        assert session.wait_for_new(30) is False
        assert time.monotonic() - started < 1


# -- failures ----------------------------------------------------------------------------------------------

def test_a_wrong_password_is_an_imap_error_that_does_not_show_the_password(dovecot):
    config = config_for(dovecot, password="kata-sandi-salah-123")
    with pytest.raises(ImapLoginError) as caught:
        open_and_close(config)
    assert isinstance(caught.value, ImapError)
    assert "kata-sandi-salah-123" not in str(caught.value)
    assert "lpse-uji" in str(caught.value) and "log in failed" in str(caught.value)
    assert "AUTHENTICATIONFAILED" in str(caught.value)


def test_an_unreachable_port_is_an_imap_error(dovecot):
    with socket.socket() as bound_not_listening:  # holds the port, so nothing else listens there meanwhile
        bound_not_listening.bind((dovecot.host, 0))
        config = config_for(dovecot, port=bound_not_listening.getsockname()[1])
        with pytest.raises(ImapError, match="connection refused"):
            open_and_close(config)


def test_tls_against_a_plain_server_is_an_imap_error(dovecot):
    with pytest.raises(ImapError, match="start TLS failed"):
        open_and_close(config_for(dovecot, security="starttls"))
    with pytest.raises(ImapError, match="connect failed"):
        open_and_close(config_for(dovecot, security="ssl"))


def test_a_server_restart_fails_the_open_session_and_a_new_session_works():
    with DovecotServer() as server:
        server.append(make_message(1))
        config = config_for(server)
        with ImapSession(config) as session:
            uidvalidity = session.select()
            server.stop()
            with pytest.raises(ImapError):
                session.select()
            with pytest.raises(ImapError):
                list(session.iter_new(0))
        # leaving the session after the failure did not raise
        with pytest.raises(ImapError, match="connection refused"):
            open_and_close(config)
        server.start()
        with ImapSession(config) as session:
            assert session.select() == uidvalidity
            assert [m.uid for m in session.iter_new(0)] == [1]


@pytest.mark.parametrize("going_away", ["stop", "kill"])
def test_a_server_going_away_during_idle_is_an_imap_error(going_away):
    # stop: Dovecot says BYE before closing; kill: the connection just ends.
    with DovecotServer() as server, ImapSession(config_for(server)) as session:
        session.select()
        threading.Timer(0.3, getattr(server, going_away)).start()
        started = time.monotonic()
        with pytest.raises(ImapError, match="wait for new mail failed"):
            session.wait_for_new(30)
        assert time.monotonic() - started < 5


# -- the test server itself --------------------------------------------------------------------------------

def test_a_dovecot_that_cannot_start_is_a_skip_locally_and_a_failure_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="--version failed"):
        next(session_server(executable="/nonexistent/dovecot"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="--version failed"):
        next(session_server(executable="/nonexistent/dovecot"))


def test_a_failed_start_reports_the_dovecot_log(dovecot_server):
    with socket.socket() as taken:
        taken.bind((dovecot_server.host, 0))
        server = DovecotServer()
        try:
            server.port = taken.getsockname()[1]  # a restart must come back on its port: no other is tried
            with pytest.raises(DovecotError, match="Address already in use"):
                server.start()
        finally:
            server.close()
