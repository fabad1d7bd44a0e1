"""Background jobs: the queue that ``flask hub worker`` claims work from (imports today; syncs and retries later)."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
JOB_STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED)


class Job(db.Model):
    """One unit of background work. ``kind`` selects the handler (app.platform.jobs.registry), ``payload`` is its
    input. A worker claims a due job (queued and ``run_after`` passed, or running with a stale heartbeat because its
    worker died), counts the attempt, keeps ``heartbeat_at`` fresh while it runs and records progress and outcome.
    A failed attempt is queued again after ``retry_delays[attempt - 1]`` seconds until ``max_attempts`` is spent."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    # Claims so far, including the one running now and re-claims after a worker crashed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    # Seconds to wait before attempt n + 1 after attempt n failed; the last value repeats.
    retry_delays: Mapped[list] = mapped_column(JSON, default=list)
    run_after = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    # The worker that holds (or last held) the job, e.g. "host:4242".
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Not a column: the app.platform.jobs.queue.Lease under which this process holds the job, set by claim_next. Writes
    # to a running job are conditional on it, so they must not depend on values re-read from the row.
    lease = None

    @property
    def finished(self):
        """True once the job has an outcome that will not change (succeeded, or failed with no attempt left)."""
        return self.status in (SUCCEEDED, FAILED)

    def __repr__(self):
        return f"<Job {self.id} {self.kind} {self.status}>"
