"""Hostile HTML in email: a corpus of XSS payloads through the real parser, and through Chromium on the real pages.

The corpus draws on the OWASP XSS filter-evasion cheat sheet and on mutation-XSS shapes published against
sanitisers (namespace confusion, comments, raw-text elements). Two checks, each of which fails on a regression:

- the sanitised HTML, re-parsed, holds no element, attribute or URL that can run code or load from elsewhere;
- Chromium, opening the email's HTML view (and the ticket page) as an officer would, never runs a payload (no
  alert dialog opens, hovering included) and never asks a host other than the app for anything.
"""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest

from channels.email.intake import ingest
from channels.email.parse import parse_email
from helpdesk.extensions import db
from helpdesk.models import Ticket, TicketEvent

from .conftest import PASSWORD

J = "alert(1)"  # what every payload tries to run
PAYLOADS = [
    f"<script>{J}</script>",
    "<SCRIPT SRC=//xss.example/x.js></SCRIPT>",
    f"<img src=x onerror={J}>",
    f"<img src=x onerror={J}//",
    f'<img src="x" onerror\x0b={J}>',
    f"<IMG SRC=JaVaScRiPt:{J}>",
    f'<img src="jav&#x09;ascript:{J};">',
    f'<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{J}">klik</a>',
    f'<a href="java\x00script:{J}">klik</a>',
    f'<a href=" javascript:{J}">klik</a>',
    '<a href="vbscript:msgbox(1)">klik</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">klik</a>',
    f"<body onload={J}>",
    f"<svg onload={J}>",
    f'<svg><a xlink:href="javascript:{J}"><text x="20" y="20">klik</text></a></svg>',
    f"<svg><script>{J}</script></svg>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={J}>",
    f'<noscript><p title="</noscript><img src=x onerror={J}>">',
    f'<!--<img src="--><img src=x onerror={J}//">',
    f"<![CDATA[<script>{J}</script>]]>",
    f"<xmp><img src=x onerror={J}></xmp>",
    f"<template><script>{J}</script></template>",
    f"<textarea></textarea><script>{J}</script>",
    f"<scr<script>ipt>{J}</scr</script>ipt>",
    f"<details open ontoggle={J}>",
    f"<input autofocus onfocus={J}>",
    f"<select autofocus onfocus={J}></select>",
    f"<video><source onerror={J}></video>",
    f"<audio src=x onerror={J}>",
    f"<marquee onstart={J}>x</marquee>",
    f'<iframe src="javascript:{J}"></iframe>',
    f'<iframe srcdoc="&lt;script&gt;{J}&lt;/script&gt;"></iframe>',
    f'<object data="javascript:{J}"></object>',
    f'<embed src="javascript:{J}">',
    f'<form action="javascript:{J}"><button>kirim</button></form>',
    f'<form><button formaction="javascript:{J}">kirim</button></form>',
    f'<base href="javascript:{J}//">',
    f'<meta http-equiv="refresh" content="0;url=javascript:{J}">',
    f'<link rel="stylesheet" href="javascript:{J}">',
    f'<style>@import "javascript:{J}";</style>',
    f'<div style="background-image:url(javascript:{J})">x</div>',
    f'<div style="width:expression({J})">x</div>',
    f'<table background="javascript:{J}"><tr><td>x</td></tr></table>',
    f'<img srcset="javascript:{J} 1x">',
    f'<isindex type=image src=1 onerror={J}>',
    f'<p id="x" onmouseover="{J}" style="position:fixed;top:0;left:0;width:100%;height:100%">x</p>',
    '<img src="https://pelacak.example/pixel.gif?dibaca=1" width="1" height="1">',
    f'<a href="https://penipu.example/" target="_blank" rel="opener">x</a><img src=x onerror="window.opener&&{J}">',
]


def _email(body_html: str, *, charset: str = "utf-8", number: int = 0) -> bytes:
    message = EmailMessage()
    message["From"] = f"Penyerang {number} <penyerang{number}@contoh.co.id>"
    message["To"] = "helpdesk@lpse.example.go.id"
    message["Subject"] = f"Uji {number}"
    message["Message-ID"] = f"<xss-{number}@contoh.co.id>"
    message.set_content("Versi teks.")
    message.add_alternative(f"<html><body><p>Pesan {number}</p>{body_html}</body></html>", subtype="html",
                            charset=charset)
    return message.as_bytes()


# -- the sanitised markup ------------------------------------------------------------------------------------------

FORBIDDEN_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
                  "textarea", "select", "base", "meta", "link", "style", "svg", "math", "template", "noscript",
                  "xmp", "isindex", "video", "audio", "source", "marquee", "body", "html", "head"}
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "background", "poster", "data", "cite",
                  "longdesc", "xlink:href", "dynsrc", "lowsrc"}
SAFE_SCHEMES = {"http", "https", "mailto", "cid", "tel"}


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))


def _problems(markup: str) -> list[str]:
    parser = _Elements()
    parser.feed(markup)
    problems = []
    for tag, attrs in parser.elements:
        if tag in FORBIDDEN_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name in {"srcdoc", "style", "formaction", "http-equiv"}:
                problems.append(f"<{tag} {name}>")
            if name in URL_ATTRIBUTES:
                plain = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
                scheme = plain.split(":", 1)[0] if re.match(r"^[a-z][a-z0-9+.-]*:", plain) else ""
                if scheme and scheme not in SAFE_SCHEMES:
                    problems.append(f"<{tag} {name}={value!r}>")
    return problems


def test_the_checker_itself_finds_what_it_looks_for():
    assert _problems(f"<p>ok</p><img src=x onerror={J}>") == ["<img onerror>"]
    assert _problems('<a href="jav&#x09;ascript:x">a</a>') == ["<a href='jav\\tascript:x'>"]
    assert _problems("<svg></svg><p style='x'>") == ["<svg>", "<p style>"]
    assert _problems('<a href="https://lpse.example/">a</a><img src="cid:logo">') == []


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_sanitised_html_holds_nothing_that_runs(payload):
    parsed = parse_email(_email(payload))
    assert parsed.html is not None and "Pesan 0" in parsed.html
    assert _problems(parsed.html) == []
    assert "javascript:" not in html.unescape(parsed.html).lower().replace("\x00", "")


def test_utf7_and_unknown_charsets_do_not_smuggle_markup():
    """UTF-7 once made '+ADw-script+AD4-' a <script> in browsers that guessed the charset."""
    payload = "+ADw-script+AD4-alert(1)+ADw-/script+AD4-"
    raw = _email(payload).replace(b'charset="utf-8"', b'charset="utf-7"')
    parsed = parse_email(raw)
    assert _problems(parsed.html or "") == []
    assert "<script" not in (parsed.html or "").lower()


# -- in the browser ------------------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.backends("sqlite")  # the markup does not depend on the database; one backend keeps the suite short
def test_chromium_runs_no_payload_on_the_ticket_page_or_the_html_view(app, office, make_staff, page, site):
    officer = make_staff(role="helpdesk", email="petugas@lpse.example.go.id")
    received = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    refs = []
    for number, payload in enumerate(PAYLOADS):
        result = ingest(_email(payload, number=number), received_at=received, office=office, source="test")
        assert result.outcome == "ticket", result
        refs.append(result.ticket_ref)
    db.session.commit()
    rows = db.session.execute(db.select(Ticket.ref, TicketEvent).join(Ticket, Ticket.id == TicketEvent.ticket_id)).all()
    events = {ref: event.id for ref, event in rows if (event.data or {}).get("html_sha256")}
    assert sorted(events) == sorted(refs)

    ran, elsewhere = [], []
    page.on("dialog", lambda dialog: (ran.append(f"{page.url}: {dialog.message}"), dialog.dismiss()))

    def only_the_app(route):
        if route.request.url.startswith(site) or route.request.url.startswith(("data:", "about:")):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.context.route("**/*", only_the_app)
    page.set_content(f"<img src=x onerror={J}>")  # the detector works: unprotected markup does run
    assert len(ran) == 1
    ran.clear()
    page.goto(f"{site}/login")
    page.fill("input[name=email]", officer.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue.*|.*/$|.*/tickets.*"))

    # Every HTML view; the ticket page (which shows the text part, the sender and the subject) for a sample.
    urls = [f"{site}/tickets/{ref}/events/{events[ref]}/html" for ref in refs]
    urls += [f"{site}/tickets/{ref}" for ref in refs[::8]]
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.mouse.move(10, 10)  # hover handlers, if any survived
        page.mouse.move(600, 400)
    assert ran == []
    assert elsewhere == []  # the tracking pixel included: the view's CSP stops it before it is asked for
