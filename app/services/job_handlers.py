"""Which function runs a job of each kind. Handlers are named as "module:function" and imported only when a job
of that kind runs, so the queue and the worker stay independent of the features that use them: a feature adds one
line here, never an import in the core.

A handler is called as ``handler(job, progress)``: ``job`` is the claimed app.models.Job (read ``job.payload``),
``progress(done, total)`` records progress, commits the session and refreshes the heartbeat. Returning means
success; raising means a failed attempt (retried while ``job.max_attempts`` allows)."""

import importlib

JOB_HANDLERS = {
    "patient_import": "app.services.patient_import:run_import_job",
    "webhook_retry": "app.services.webhook_ingest:run_retry_job",
    "integration_sync": "app.services.sync:run_sync_job",
    "integration_probe": "app.services.sync:run_probe_job",
}


class JobHandlerError(LookupError):
    """No usable handler for a job's kind: none registered, or its module or function cannot be loaded."""


def resolve_handler(kind):
    """The handler function registered for ``kind``, imported now; raises JobHandlerError with a message that says
    what is missing, so the failed job explains itself."""
    target = JOB_HANDLERS.get(kind)
    if target is None:
        raise JobHandlerError(f"no handler is registered for job kind {kind!r}")
    module_name, _, function_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise JobHandlerError(f"the handler {target} for job kind {kind!r} cannot be imported: {error}") from error
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise JobHandlerError(f"the handler {target} for job kind {kind!r} does not exist")
    return handler
