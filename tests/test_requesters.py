"""Requesters (helpdesk/requesters.py): phone numbers to E.164, found again by email or phone, never erased."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.models import Requester, count_rows
from helpdesk.requesters import (Phone, count_tickets, earlier_tickets, find_or_create_requester, find_requester,
                                 format_phone, normalise_phone)

from .conftest import RECEIVED_AT


@pytest.mark.parametrize(("typed", "e164"), [
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("  0812 3456 7890 ", "+6281234567890"),
    ("(0711) 123456", "+62711123456"),          # Palembang landline
    ("021-29935577", "+622129935577"),          # Jakarta landline (LKPP)
])
def test_normalise_phone_gives_e164(typed, e164):
    assert normalise_phone(typed) == Phone(e164, True)


@pytest.mark.parametrize("typed", ["12ab", "0812", "ext. 204"])
def test_normalise_phone_keeps_junk_as_typed_and_flags_it(typed):
    assert normalise_phone(f" {typed} ") == Phone(typed, False)


@pytest.mark.parametrize("typed", [None, "", "   "])
def test_normalise_phone_of_nothing_is_none(typed):
    assert normalise_phone(typed) is None


def test_format_phone_groups_stored_numbers_for_people():
    assert format_phone("+6281234567890") == "+62 812-3456-7890"
    assert format_phone("12ab") == "12ab"
    assert format_phone(None) == ""


def test_requester_with_junk_phone_is_kept_not_rejected(app):
    requester = find_or_create_requester(name="Pak Budi", phone="12ab")
    db.session.commit()
    assert (requester.phone, requester.phone_valid) == ("12ab", False)
    assert find_requester(phone="12ab") == requester


def test_requester_is_found_by_email_case_insensitively(make_requester):
    first = make_requester(name="Rina", email="Rina.Sari@CV-Maju.example.co.id")
    again = find_or_create_requester(name="Rina Sari", email="  rina.sari@cv-maju.EXAMPLE.co.id ")
    assert again.id == first.id
    assert again.email == "rina.sari@cv-maju.example.co.id"
    assert again.name == "Rina Sari"  # a name given now replaces the old one
    assert count_rows(Requester) == 1


def test_requester_is_found_by_phone_typed_another_way(make_requester):
    first = make_requester(name="Budi", email=None, phone="0812-3456-7890")
    again = find_or_create_requester(name="Budi Santoso", phone="+62 812 3456 7890")
    assert again.id == first.id
    assert again.phone == "+6281234567890"
    assert count_rows(Requester) == 1


def test_found_requester_gets_blanks_filled(make_requester):
    first = make_requester(name="Budi", email=None, phone="081234567890", organization=None)
    again = find_or_create_requester(name="Budi", phone="6281234567890", email="budi@penyedia.example.co.id",
                                     organization="PT Sinar Jaya", spse_role="penyedia", address="Jl. Merdeka 1")
    assert again.id == first.id
    assert (again.email, again.organization, again.spse_role, again.address) == (
        "budi@penyedia.example.co.id", "PT Sinar Jaya", "penyedia", "Jl. Merdeka 1")


def test_blanks_never_erase_what_is_known(make_requester):
    first = make_requester(name="Siti", email="siti@dinas.example.go.id", phone="0812-1111-2222",
                           organization="Dinas PU", spse_role="ppk", address="Jl. Sudirman 5")
    again = find_or_create_requester(name="  ", email="siti@dinas.example.go.id", phone="  ", organization="",
                                     spse_role=None, address="   ")
    db.session.commit()
    db.session.expire_all()
    assert again.id == first.id
    assert (again.name, again.phone, again.phone_valid, again.organization, again.spse_role, again.address) == (
        "Siti", "+6281211112222", True, "Dinas PU", "ppk", "Jl. Sudirman 5")


def test_junk_phone_does_not_replace_a_valid_one(make_requester):
    first = make_requester(name="Siti", email="siti@dinas.example.go.id", phone="0812-1111-2222")
    again = find_or_create_requester(name="Siti", email="siti@dinas.example.go.id", phone="12ab")
    assert again.id == first.id
    assert (again.phone, again.phone_valid) == ("+6281211112222", True)


def test_valid_phone_replaces_a_junk_one(make_requester):
    first = make_requester(name="Siti", email="siti@dinas.example.go.id", phone="12ab")
    again = find_or_create_requester(name="Siti", email="siti@dinas.example.go.id", phone="0812-1111-2222")
    assert again.id == first.id
    assert (again.phone, again.phone_valid) == ("+6281211112222", True)


def test_requester_without_name_is_named_by_email(app):
    requester = find_or_create_requester(name="", email="anon@example.com")
    assert requester.name == "anon@example.com"


def test_requester_needs_some_identity(app):
    with pytest.raises(ValidationError):
        find_or_create_requester(name=" ", email=" ", phone=None)
    assert count_rows(Requester) == 0


def test_unknown_spse_role_is_refused(app):
    with pytest.raises(ValidationError):
        find_or_create_requester(name="Budi", email="budi@example.com", spse_role="raja")
    assert count_rows(Requester) == 0


def test_earlier_tickets_newest_first(make_requester, make_ticket):
    requester, someone_else = make_requester(), make_requester()
    oldest = make_ticket(requester=requester, received_at=RECEIVED_AT - timedelta(days=30))
    newest = make_ticket(requester=requester, received_at=RECEIVED_AT)
    middle = make_ticket(requester=requester, received_at=RECEIVED_AT - timedelta(days=2))
    make_ticket(requester=someone_else)

    assert earlier_tickets(requester) == [newest, middle, oldest]
    assert earlier_tickets(requester, exclude_id=newest.id) == [middle, oldest]
    assert earlier_tickets(requester, limit=1) == [newest]
    assert count_tickets(requester) == 3
    assert count_tickets(someone_else) == 1


def test_colleague_on_a_shared_office_phone_is_a_new_requester(app):
    first = find_or_create_requester(name="Rudi", email="rudi@dinas.example.go.id", phone="(0711) 123456")
    second = find_or_create_requester(name="Wati", email="wati@dinas.example.go.id", phone="(0711) 123456")
    assert second.id != first.id
    assert (second.email, second.phone) == ("wati@dinas.example.go.id", first.phone)
    again = find_or_create_requester(name="Rudi", phone="(0711) 123456", email="RUDI@dinas.example.go.id")
    assert again.id == first.id


def test_caller_known_only_by_phone_gains_their_email(app):
    first = find_or_create_requester(name="Rudi", phone="0812-5555-6666")
    again = find_or_create_requester(name="Rudi", phone="0812-5555-6666", email="rudi@cv.example.co.id")
    assert again.id == first.id and again.email == "rudi@cv.example.co.id"
