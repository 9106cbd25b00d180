"""The queue: filters, SLA states, text search, deadline order, keyset pages and counts."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from helpdesk import tickets
from helpdesk.extensions import db
from helpdesk.queue import QueueFilters, queue_page

WIB = ZoneInfo("Asia/Jakarta")


def refs(response) -> list[str]:
    return re.findall(r'<tr data-ref="([^"]+)"', response.get_data(as_text=True))


@pytest.fixture
def officer(client, login, make_staff):
    staff = make_staff()
    login(client, staff)
    return staff


def test_queue_lists_active_tickets_by_follow_up_deadline(client, officer, make_ticket):
    later = make_ticket(received_at=datetime(2026, 11, 25, 9, 0, tzinfo=WIB))
    earlier = make_ticket(received_at=datetime(2026, 11, 24, 9, 0, tzinfo=WIB))
    done = make_ticket(status="resolved")
    followed = make_ticket(status="open", received_at=datetime(2026, 11, 20, 9, 0, tzinfo=WIB))
    tickets.add_message(followed, direction="outbound", body="Sudah kami cek.", actor=officer, via="phone",
                        at=datetime(2026, 11, 20, 9, 30, tzinfo=WIB))
    db.session.commit()
    # Awaiting follow-up first, by deadline; followed-up tickets after them; resolved ones not at all.
    assert refs(client.get("/tickets")) == [earlier.ref, later.ref, followed.ref]
    assert done.ref in refs(client.get("/tickets?status=all"))
    assert refs(client.get("/tickets?status=resolved")) == [done.ref]


def test_queue_filters_by_status_channel_and_assignee(client, officer, make_staff, make_ticket):
    other = make_staff()
    phone = make_ticket(channel="phone")
    email = make_ticket(channel="email")
    pending = make_ticket(status="pending", channel="walkin")
    tickets.assign(phone, officer, actor=officer)
    tickets.assign(email, other, actor=officer)
    db.session.commit()
    assert refs(client.get("/tickets?channel=email")) == [email.ref]
    assert refs(client.get("/tickets?status=pending")) == [pending.ref]
    assert refs(client.get("/tickets?assignee=me")) == [phone.ref]
    assert refs(client.get("/tickets?assignee=none")) == [pending.ref]
    assert refs(client.get(f"/tickets?assignee={other.id}")) == [email.ref]
    assert refs(client.get("/tickets?status=pending&channel=phone")) == []


def test_queue_rejects_unknown_filter_values(client, officer):
    for query in ("status=bogus", "channel=fax", "sla=soon", "assignee=bob", "after=!!notacursor"):
        assert client.get(f"/tickets?{query}").status_code == 400, query


def test_text_search_covers_subject_body_reference_and_requester(client, officer, make_ticket, make_requester):
    siti = make_requester(name="Siti Rahmawati", organization="CV Maju Jaya", phone="0812-1111-2222")
    by_subject = make_ticket(subject="Apendo gagal enkripsi")
    by_body = make_ticket(body="Muncul kode galat E-1024 saat unggah")
    by_requester = make_ticket(requester=siti)
    assert refs(client.get("/tickets?q=apendo")) == [by_subject.ref]
    assert refs(client.get("/tickets?q=E-1024")) == [by_body.ref]
    assert refs(client.get("/tickets?q=maju+jaya")) == [by_requester.ref]
    assert refs(client.get("/tickets?q=rahmawati")) == [by_requester.ref]
    assert refs(client.get("/tickets?q=6281211112222")) == [by_requester.ref]
    assert refs(client.get(f"/tickets?q={by_body.ref.lower()}")) == [by_body.ref]
    assert refs(client.get("/tickets?q=50%25")) == []  # LIKE wildcards are literal
    assert refs(client.get("/tickets?q=%22apendo")) == []  # so are FTS5 quotes
    assert refs(client.get("/tickets?q=ja")) == [by_requester.ref]  # below three letters: no trigram, still found


def test_search_follows_edits_of_the_searchable_text(client, officer, make_ticket):
    ticket = make_ticket()
    tickets.classify(ticket, actor=officer, tender_code="10099887")
    db.session.commit()
    assert refs(client.get("/tickets?q=10099887")) == [ticket.ref]


def test_inbound_message_text_is_searchable(client, officer, make_ticket):
    ticket = make_ticket()
    tickets.add_message(ticket, direction="inbound", body="Nomor NPWP kami 01.234.567.8-901.000")
    db.session.commit()
    assert refs(client.get("/tickets?q=01.234.567")) == [ticket.ref]


def test_keyset_pages_walk_the_whole_queue_once_in_order(app, client, officer, make_ticket, make_requester):
    app.config["QUEUE_PAGE_SIZE"] = 3
    requester = make_requester()
    start = datetime(2026, 11, 23, 8, 0, tzinfo=WIB)
    made = [make_ticket(requester=requester, received_at=start + timedelta(hours=i % 4, minutes=i))
            for i in range(8)]
    seen, url, pages = [], "/tickets", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += refs(response)
        pages += 1
        match = re.search(r'rel="next" href="([^"]+)"', response.get_data(as_text=True))
        url = match.group(1).replace("&amp;", "&") if match else None
    assert pages == 3
    expected = sorted(made, key=lambda t: (t.follow_up_due_at, t.id))
    assert seen == [t.ref for t in expected]


def test_status_counts_are_shown(client, officer, make_ticket):
    make_ticket(status="pending")
    make_ticket(status="pending")
    make_ticket(status="closed")
    page = client.get("/tickets").get_data(as_text=True)
    assert re.search(r'data-count-status="pending">[^<]*<span class="badge[^"]*">2<', page)
    assert re.search(r'data-count-status="closed">[^<]*</a>', page)  # the archive is not counted
    assert re.search(r'data-count-status="new">[^<]*<span class="badge[^"]*">0<', page)


def test_sla_states_filter_at_a_given_moment(app, office, officer, make_ticket):
    now = datetime(2026, 11, 25, 9, 0, tzinfo=WIB)  # Wednesday morning
    overdue = make_ticket(received_at=datetime(2026, 11, 23, 14, 0, tzinfo=WIB))   # due Tue 24 14:00
    due_today = make_ticket(received_at=datetime(2026, 11, 24, 13, 0, tzinfo=WIB))  # due Wed 25 13:00
    on_track = make_ticket(received_at=datetime(2026, 11, 25, 8, 0, tzinfo=WIB))    # due Thu 26 08:00
    met = make_ticket(received_at=datetime(2026, 11, 24, 8, 0, tzinfo=WIB))
    tickets.add_message(met, direction="outbound", body="Dijawab.", actor=officer, via="phone",
                        at=datetime(2026, 11, 24, 9, 0, tzinfo=WIB))
    missed = make_ticket(received_at=datetime(2026, 11, 20, 8, 0, tzinfo=WIB))
    tickets.add_message(missed, direction="outbound", body="Maaf terlambat.", actor=officer, via="phone",
                        at=datetime(2026, 11, 24, 9, 0, tzinfo=WIB))
    db.session.commit()

    def page(sla: str) -> list[str]:
        return [t.ref for t in queue_page(office, QueueFilters(sla=sla), now=now, viewer_id=officer.id).tickets]

    assert page("overdue") == [overdue.ref]
    assert page("due_today") == [due_today.ref]
    assert page("on_track") == [on_track.ref]
    assert page("met") == [met.ref]
    assert page("missed") == [missed.ref]


def test_overdue_ticket_is_marked_in_the_page(client, officer, make_ticket):
    received = datetime.now(timezone.utc) - timedelta(days=14)
    ticket = make_ticket(received_at=received)
    page = client.get("/tickets?sla=overdue").get_data(as_text=True)
    assert refs(client.get("/tickets?sla=overdue")) == [ticket.ref]
    assert 'class="table-danger"' in page
    assert "terlambat" in page


def test_reclassifying_keeps_the_requesters_messages_searchable(client, officer, make_ticket):
    ticket = make_ticket()
    tickets.add_message(ticket, direction="inbound", body="Lampiran SPAMKodok rusak")
    tickets.classify(ticket, actor=officer, error_code="E-77")
    db.session.commit()
    assert refs(client.get("/tickets?q=spamkodok")) == [ticket.ref]
    assert refs(client.get("/tickets?q=e-77")) == [ticket.ref]
