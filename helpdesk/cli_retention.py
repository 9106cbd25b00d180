"""``helpdesk retention run [--dry-run] [--now ISO]``: purge what the retention schedule says is due, now."""
from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, ProgrammingError

from .retention import RetentionError, purge, purge_summary


@click.group("retention")
def retention_group() -> None:
    """The retention schedule: identity documents and raw emails of long-closed tickets."""


def _moment(value: str | None) -> datetime | None:
    """``--now`` as an aware datetime; a time without an offset is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (2026-12-06 or 2026-12-06T02:00+07:00)",
                                 param_hint="--now") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="list what would be deleted; change nothing")
@click.option("--now", "now_text", metavar="ISO", help="purge as if it were this time (no offset: UTC)")
@with_appcontext
def retention_run_command(dry_run: bool, now_text: str | None) -> None:
    """Delete the identity documents (or every attachment, by retention.scope) and raw emails of tickets closed more
    than retention.months months ago. The tickets, their text and history stay; each purge is in the audit log."""
    now = _moment(now_text)
    try:
        result = purge(now=now, dry_run=dry_run)
    except RetentionError as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"the database cannot be read ({exc.orig}): run `helpdesk init`") from None
    for line in purge_summary(result):
        click.echo(line)
