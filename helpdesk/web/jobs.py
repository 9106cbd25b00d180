"""The background jobs page, for system administrators: each job's schedule and last run, and a button to run it."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import audit
from ..errors import HelpdeskError
from ..extensions import db
from ..models import JobRun
from ..scheduler import Job, UnknownJob, available_jobs, interval_seconds, job_records, run_job
from ..timeutil import utcnow
from .access import admin_required

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")


@dataclass
class JobRow:
    """One line of the page: the job, its interval, why it is off (if it is) and its ``job_run`` record."""

    job: Job
    seconds: float
    off_reason: str | None
    record: JobRun | None
    running: bool


@bp.get("/")
@admin_required
def index():
    """Every job with what it does, how often, its last start and finish, status, error and holder."""
    config = current_app.config
    records = job_records()
    now = utcnow()
    rows = []
    for job in available_jobs(config):
        record = records.get(job.name)
        running = bool(record and record.lease_until and record.lease_until > now)
        rows.append(JobRow(job=job, seconds=interval_seconds(job, config), off_reason=job.off_reason(config),
                           record=record, running=running))
    return render_template("web/admin/jobs.html", rows=rows, every=every)


@bp.post("/<key>/run")
@admin_required
def run(key: str):
    """Run the job named ``key`` now, in this request, under its lock (as the scheduler would); flash its summary."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        summary = run_job(app, key)
    except UnknownJob:
        abort(404)
    except HelpdeskError as exc:  # the job is off, or part of its work failed
        outcome = "refused"
        flash(_("%(job)s: %(reason)s", job=key, reason=str(exc)), "warning")
    except Exception as exc:  # recorded in job_run; the page says what happened
        outcome = "failed"
        log.exception("job %s failed when run from the jobs page", key)
        flash(_("%(job)s failed: %(reason)s", job=key, reason=f"{type(exc).__name__}: {exc}"), "danger")
    else:
        outcome = "done"
        log.info("job %s run from the jobs page: %s", key, summary)
        flash(_("%(job)s: %(summary)s", job=key, summary=summary), "success")
    db.session.rollback()  # whatever the job left in this request's session is not ours to commit
    audit.record_view("job.run", target_type="job", target_id=key, outcome=outcome)
    return redirect(url_for(".index"))


def every(seconds: float) -> str:
    """"every 30 s", "every 5 min", "every 1 h": an interval as the page shows it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return ngettext("every hour", "every %(num)d hours", int(seconds // 3600))
    if seconds >= 60 and seconds % 60 == 0:
        return ngettext("every minute", "every %(num)d minutes", int(seconds // 60))
    return _("every %(n)s s", n=f"{seconds:g}")
