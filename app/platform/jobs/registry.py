"""Which function runs a job of each kind, and which periodic tasks the worker runs between jobs. Each domain
registers its kinds when the app is built (``register_job_kind`` in its ``init_app``), so the queue and the worker
know no feature. A job stores its kind,
never a module path, so queued jobs survive any move of the code behind them.

A handler is called as ``handler(job, progress)``: ``job`` is the claimed Job (read ``job.payload``),
``progress(done, total)`` records progress, commits the session and refreshes the heartbeat. Returning means
success; raising means a failed attempt (retried while ``job.max_attempts`` allows)."""

from flask import current_app

JOB_HANDLERS = "praxis.job_handlers"
PERIODIC_TASKS = "praxis.periodic_tasks"


class JobHandlerError(LookupError):
    """No usable handler for a job's kind: none registered, so the failed job explains itself."""


def register_job_kind(app, kind, handler):
    """Let ``handler`` run the jobs of ``kind``; a kind belongs to one handler."""
    handlers = app.extensions.setdefault(JOB_HANDLERS, {})
    if handlers.get(kind, handler) is not handler:
        raise ValueError(f"job kind {kind!r} is already registered")
    handlers[kind] = handler


def job_kinds(app=None):
    """The registered kinds and their handlers."""
    return dict((app or current_app).extensions.get(JOB_HANDLERS, {}))


def resolve_handler(kind):
    """The handler function registered for ``kind``; raises JobHandlerError with a message that says what is
    missing."""
    handler = job_kinds().get(kind)
    if handler is None:
        raise JobHandlerError(f"no handler is registered for job kind {kind!r}")
    return handler


def register_periodic(app, name, task):
    """Let the worker call ``task(prune=bool)`` every WORKER_SCHEDULE_SECONDS (``prune`` hourly, to drop old
    data); it returns counts of what it did, for the log."""
    app.extensions.setdefault(PERIODIC_TASKS, {})[name] = task


def periodic_tasks(app=None):
    """The registered periodic tasks by name."""
    return dict((app or current_app).extensions.get(PERIODIC_TASKS, {}))
