"""A real HTTP server (waitress) serving the test app on a free loopback port, in a background thread."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from flask import Flask
from waitress.server import create_server


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (port chosen by the OS) and yield its base URL."""
    server = create_server(app, host="127.0.0.1", port=0, threads=4, clear_untrusted_proxy_headers=True)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


def browser_login(page, site: str, staff, password: str = "rahasia123") -> None:
    """Log ``staff`` in through the login form in a browser tab and wait for the queue."""
    page.goto(f"{site}/login")
    page.fill("#email", staff.email)
    page.fill("#password", password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site}/tickets")
