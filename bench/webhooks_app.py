"""WSGI app for bench/webhooks.py: the real Praxis Hub app plus one bare baseline route, POST /bench/bare.

The bare route is the budget's yardstick ("verify HMAC and insert one row"): it checks the same Standard Webhooks
headers and HMAC-SHA256 signature as the booking-tool receiver (base64, constant-time compare, 5-minute timestamp
tolerance) with the secret in BENCH_WEBHOOK_SECRET, then stores the delivery with one INSERT and one commit into
``bench_bare_events`` (created by the bench, not by the migrations). Both routes run in the same gunicorn process,
on the same database and with the same worker and thread settings.

Served by the bench as ``gunicorn 'bench.webhooks_app:create_bench_app()'``; not part of the application.
"""

import base64
import hashlib
import hmac
import os
import time

from flask import jsonify, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert

from app import create_app
from app.platform.extensions import csrf, db
from app.platform.security.guard import public

TOLERANCE_SECONDS = 300

metadata = MetaData()
BARE_EVENTS = Table(
    "bench_bare_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", String(128), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
)


def _key(secret):
    """The HMAC key of ``secret`` (``whsec_<base64>``, as the booking tool's secrets)."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def create_bench_app(config_class=None, secret=None, **overrides):
    """The real app with the bare route added: create_app(config_class, **overrides), configured from the
    environment by default, as gunicorn starts it; the bare route's secret is ``secret`` or BENCH_WEBHOOK_SECRET."""
    app = create_app(config_class, **overrides)
    key = _key(secret or os.environ["BENCH_WEBHOOK_SECRET"])

    @public
    def bare():
        """JSON: verify the Standard Webhooks signature and insert one row; 401 on a bad signature."""
        msg_id = request.headers.get("webhook-id", "")
        timestamp = request.headers.get("webhook-timestamp", "")
        signature = request.headers.get("webhook-signature", "")
        if not (msg_id and timestamp.isdigit() and signature):
            return jsonify(status="rejected"), 401
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return jsonify(status="rejected"), 401
        body = request.get_data()
        expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        offered = [entry.partition(",")[2] for entry in signature.split() if entry.startswith("v1,")]
        if not any(hmac.compare_digest(expected, base64.b64decode(value)) for value in offered):
            return jsonify(status="rejected"), 401
        db.session.execute(insert(BARE_EVENTS).values(
            delivery_id=msg_id, body=body.decode("utf-8"), received_at=db.func.now()))
        db.session.commit()
        return jsonify(status="stored")

    app.add_url_rule("/bench/bare", "bench_bare", csrf.exempt(bare), methods=["POST"])
    return app
