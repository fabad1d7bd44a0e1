"""``flask hub worker``: the background worker."""

import logging

import click
from flask import current_app
from flask.cli import AppGroup

from app.platform.jobs.worker import default_worker_id, run_worker

hub_cli = AppGroup("hub", help="Integration hub: the background worker.")


@hub_cli.command("worker")
@click.option("--once", is_flag=True, help="Run every job that is due, then exit (for tests and cron).")
@click.option("--worker-id", help="Name recorded on the jobs this worker claims (default: hostname:pid).")
def worker_command(once, worker_id):
    """Run the background worker: claim queued jobs and run them until SIGTERM or Ctrl-C (the job in hand is
    finished first). Run one worker on SQLite; on PostgreSQL any number, on any number of hosts."""
    current_app.logger  # noqa: B018 (attaches Flask's stderr handler when logging is not configured)
    for name in ("app.platform.jobs.worker", "app.platform.jobs.queue"):
        logging.getLogger(name).setLevel(logging.INFO)
    worker_id = worker_id or default_worker_id()
    processed = run_worker(current_app._get_current_object(), worker_id, once=once)
    click.echo(f"Worker {worker_id} ran {processed} jobs.")
