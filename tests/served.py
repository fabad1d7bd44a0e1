"""The app served by gunicorn for tests that need real worker processes (several workers must agree through the
database or the rate limiter's storage, as in production): started on a free port, stopped at the end."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")
STARTUP_SECONDS = 60


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(tmp_path, env, *options):
    """Serve ``wsgi:app`` with ``options`` (e.g. "--workers", "2") and ``env`` added to this environment; yields
    the base URL once /api/health answers (a failed start fails the test with the server's log)."""
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    log = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603 (our own gunicorn, fixed arguments)
        [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--timeout", "60", *options, "wsgi:app"],
        cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=2).close()  # noqa: S310 (loopback)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start: " + log_path.read_text()[-2000:])
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def status_when_all_ready(request, barrier):
    """Send ``request`` (a urllib Request) once every thread has reached ``barrier``; its status code, 4xx and 5xx
    included."""
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
