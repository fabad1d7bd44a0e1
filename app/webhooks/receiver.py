"""The webhook receiver: signed events from the booking tool, Cal.com and Retell (/api/webhooks/...).

Public (the signature is the authentication) and exempt from CSRF. The view only checks what the HTTP layer
knows (endpoint, size, media type) and hands the raw bytes to app.webhooks.ingest; answers are JSON as
DESIGN.md §5 lists them. Each endpoint has its own rate limit (WEBHOOK_RATE_LIMIT, shared by all workers when
the limiter uses Redis), keyed by the endpoint, so webhook traffic never counts against the UI or the API."""

from flask import Blueprint, current_app, jsonify, request

from app.platform.extensions import csrf, limiter
from app.platform.security.guard import public
from app.webhooks import ingest as webhook_ingest
from app.webhooks.rejections import NOT_JSON, TOO_LARGE

bp = Blueprint("inbound", __name__, url_prefix="/api/webhooks")
csrf.exempt(bp)

JSON_TYPES = ("application/json",)


def _endpoint_key():
    """The rate-limit key: one bucket per endpoint URL."""
    view_args = request.view_args or {}
    return f"webhook:{view_args.get('source')}:{view_args.get('public_id')}"


def _read_body(limit):
    """The raw body, or None when it is larger than ``limit`` bytes (read at most limit + 1 bytes, so a sender
    without Content-Length cannot make us buffer more)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


@bp.post("/<source>/<public_id>")
@limiter.limit(lambda: current_app.config["WEBHOOK_RATE_LIMIT"], key_func=_endpoint_key)
@public
def receive(source, public_id):
    """JSON: verify, store and apply one event. 200 processed/duplicate/ignored, 202 stored but not applied
    (retried), 400 signed but unreadable (stored), 401 signature, 404 unknown or disabled endpoint, 413 too large,
    415 not JSON, 429 over the endpoint's rate (with Retry-After). 401, 413 and 415 are only counted."""
    endpoint = webhook_ingest.find_endpoint(source, public_id)
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
