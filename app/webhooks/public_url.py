"""Whether the configured public address answers: PUBLIC_BASE_URL checked against our own health check.

While PUBLIC_BASE_URL is set, every webhook URL the hub shows or registers with a provider starts with it. A typo, a
proxy that does not forward to Praxis Hub or an expired certificate means no event ever arrives, and nobody notices
until the diary is empty. So the worker asks ``{PUBLIC_BASE_URL}/api/health`` every PUBLIC_URL_CHECK_SECONDS (a
periodic task; the network call runs outside any transaction) and keeps the last answer per address; the hub and
the webhooks page warn while it fails. Without PUBLIC_BASE_URL the URLs are built from the address the page itself
was reached at, which answers by definition, so there is nothing to check."""

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.platform.database import utcnow
from app.platform.extensions import db
from app.webhooks.models import PublicUrlCheck

# What the last check found, in words for the warning.
REASONS = {
    "ok": _l("answers"),
    "timeout": _l("no answer within the time limit"),
    "unreachable": _l("cannot be reached (name unknown or connection refused)"),
    "tls": _l("its certificate is not valid"),
    "status": _l("answered with an error"),
    "not_ours": _l("answers, but not as Praxis Hub (is the proxy forwarding to the right service?)"),
}
TIMEOUT_SECONDS = 5


def _ask(base_url):
    """(ok, reason, status code) of one GET of our health check at ``base_url``."""
    try:
        response = requests.get(f"{base_url}/api/health", timeout=TIMEOUT_SECONDS,
                                headers={"Accept": "application/json"})
    except requests.exceptions.SSLError:
        return False, "tls", None
    except requests.exceptions.Timeout:
        return False, "timeout", None
    except requests.exceptions.RequestException:
        return False, "unreachable", None
    try:
        ours = response.json().get("status") in ("ok", "unavailable")
    except (ValueError, AttributeError):
        ours = False
    if not ours:
        return False, "not_ours", response.status_code
    if response.status_code != 200:
        return False, "status", response.status_code
    return True, "ok", response.status_code


def check_public_url(prune=False):
    """The worker's periodic task: check PUBLIC_BASE_URL when it is set and its last check is older than
    PUBLIC_URL_CHECK_SECONDS (0 turns the check off); returns counts for the worker's log."""
    base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    interval = current_app.config["PUBLIC_URL_CHECK_SECONDS"]
    if not base_url or interval <= 0:
        return {}
    last = db.session.scalar(select(PublicUrlCheck).where(PublicUrlCheck.base_url == base_url))
    if last is not None and (utcnow() - last.checked_at).total_seconds() < interval:
        db.session.rollback()
        return {}
    db.session.rollback()  # nothing held open while we wait for the network
    ok, reason, status_code = _ask(base_url)
    now = utcnow()
    last = db.session.scalar(select(PublicUrlCheck).where(PublicUrlCheck.base_url == base_url))
    if last is None:
        last = PublicUrlCheck(base_url=base_url)
        db.session.add(last)
    last.failing_since = None if ok else (last.failing_since or now)
    last.checked_at, last.ok, last.reason, last.status_code = now, ok, reason, status_code
    db.session.commit()
    if not ok:
        current_app.logger.warning("PUBLIC_BASE_URL %s failed our health check: %s (%s)", base_url, reason,
                                   status_code)
    return {"public_url_checked": 1}


def public_url_problem():
    """The failing check of the configured PUBLIC_BASE_URL, or None (unset, not checked yet, or answering): for
    the warning on the hub and webhooks pages. One indexed read."""
    base_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    if not base_url:
        return None
    last = db.session.scalar(select(PublicUrlCheck).where(PublicUrlCheck.base_url == base_url))
    if last is None or last.ok:
        return None
    return {"base_url": base_url, "checked_at": last.checked_at, "failing_since": last.failing_since,
            "reason": REASONS.get(last.reason, REASONS["unreachable"]), "status_code": last.status_code}
