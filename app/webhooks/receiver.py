"""The webhook receiver: signed events from the booking tool, Cal.com and Retell (/api/webhooks/...).

Public (the signature is the authentication) and exempt from CSRF. The view only checks what the HTTP layer
knows (endpoint, size, media type) and hands the raw bytes to app.webhooks.ingest; answers are JSON as
DESIGN.md §5 lists them. Each endpoint has its own rate limit (WEBHOOK_RATE_LIMIT, shared by all workers when
the limiter uses Redis), keyed by the endpoint, so webhook traffic never counts against the UI or the API.

The rate limit is checked here, once per request, rather than by Flask-Limiter's decorator, which costs three
storage commands and two limit evaluations per request (issue 16 measured 18-25 % of the receiver's time): a
fixed window in the limiter's own storage (RATELIMIT_STORAGE_URI), one atomic increment per request (on Redis one
script call on the thread's own connection, app.platform.rate_window, so 100 per minute is 100 per minute across
all workers and hosts). Only a refused request reads the window again, for its Retry-After."""

import math
import time
from functools import lru_cache

from flask import Blueprint, current_app, jsonify, request
from limits import parse
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from app.platform import rate_window
from app.platform.extensions import csrf, limiter
from app.platform.security.guard import public
from app.webhooks import ingest as webhook_ingest
from app.webhooks.receiving import find_endpoint
from app.webhooks.rejections import NOT_JSON, TOO_LARGE

bp = Blueprint("inbound", __name__, url_prefix="/api/webhooks")
csrf.exempt(bp)
# The receiver counts its requests itself (_check_rate_limit): Flask-Limiter's before_request is skipped for it.
limiter.counts_itself("inbound.receive")

JSON_TYPES = ("application/json",)


@lru_cache(maxsize=8)
def _rate(text):
    """The parsed WEBHOOK_RATE_LIMIT (e.g. "100 per minute"), parsed once per process."""
    return parse(text)


def _check_rate_limit(source, public_id):
    """Count this request in its endpoint's window; raise 429 (with Retry-After) once the window is full. A no-op
    when RATELIMIT_ENABLED is off."""
    config = current_app.config
    if not config["RATELIMIT_ENABLED"]:
        return
    rate, storage = _rate(config["WEBHOOK_RATE_LIMIT"]), limiter.storage
    key = (config["RATELIMIT_KEY_PREFIX"], "webhook", source, public_id)
    if rate_window.hit(storage, rate, *key):
        return
    reset_at = FixedWindowRateLimiter(storage).get_window_stats(rate, *key).reset_time
    raise TooManyRequests(retry_after=max(1, math.ceil(reset_at - time.time())))


def _read_body(limit):
    """The raw body, or None when it is larger than ``limit`` bytes (read at most limit + 1 bytes, so a sender
    without Content-Length cannot make us buffer more)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


@bp.post("/<source>/<public_id>")
@limiter.exempt
@public
def receive(source, public_id):
    """JSON: verify, store and apply one event. 200 processed/duplicate/ignored, 202 stored but not applied
    (retried), 400 signed but unreadable (stored), 401 signature, 404 unknown or disabled endpoint, 413 too large,
    415 not JSON, 429 over the endpoint's rate (with Retry-After). 401, 413 and 415 are only counted."""
    _check_rate_limit(source, public_id)
    endpoint = find_endpoint(source, public_id)
    if endpoint is None:
        return jsonify(status="rejected", reason="unknown or disabled webhook endpoint"), 404
    remote_addr = request.remote_addr
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    if request.mimetype not in JSON_TYPES:
        receipt = webhook_ingest.reject(endpoint, 415, NOT_JSON, remote_addr)
    else:
        body = _read_body(limit)
        if body is None:
            receipt = webhook_ingest.reject(endpoint, 413, TOO_LARGE.format(limit=limit), remote_addr)
        else:
            receipt = webhook_ingest.receive(endpoint, body, request.headers, remote_addr)
    return jsonify(receipt.body), receipt.status, receipt.headers
