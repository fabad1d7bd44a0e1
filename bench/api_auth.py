"""Benchmark: what a bearer-token check costs per API request.

Prints requests per second of GET /api/me (token lookup by SHA-256, user and practice load) against the baseline
GET /api/health (one SELECT 1, no authentication) measured in the same run on the same database, and their ratio.
Run: .venv/bin/python bench/api_auth.py [requests]   (a temp-file SQLite; TEST_DATABASE_URL is honoured)
"""

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app
from app.accounts.models import User
from app.accounts.tokens import create_token
from app.platform.extensions import db
from app.platform.security.actor import Actor
from app.tenancy.models import Practice
from config import TestConfig


def measure(client, path, headers, count):
    """Requests per second for ``count`` GETs of ``path`` (after a short warm-up)."""
    for _ in range(50):
        client.get(path, headers=headers)
    start = time.perf_counter()
    for _ in range(count):
        assert client.get(path, headers=headers).status_code == 200
    return count / (time.perf_counter() - start)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            db.drop_all()
            db.create_all()
            practice = Practice(slug="bench", name="Bench", timezone="Europe/Berlin", settings={})
            db.session.add(practice)
            db.session.commit()
            users = [User(practice_id=practice.id, email=f"u{i}@bench.test", name=f"U{i}", role="admin")
                     for i in range(1000)]
            db.session.add_all(users)
            db.session.commit()
            tokens = [create_token(Actor(user), user, "bench")[1] for user in users[:200]]
            client = app.test_client()
            baseline = measure(client, "/api/health", {}, count)
            authed = measure(client, "/api/me", {"Authorization": f"Bearer {tokens[-1]}"}, count)
            db.session.remove()  # end the open read transaction, or PostgreSQL's DROP waits for it forever
            db.drop_all()
    print(f"GET /api/health (baseline, no auth): {baseline:8.0f} req/s")
    print(f"GET /api/me (bearer token):          {authed:8.0f} req/s")
    print(f"ratio token-authenticated / baseline: {authed / baseline:.2f}")


if __name__ == "__main__":
    main()
