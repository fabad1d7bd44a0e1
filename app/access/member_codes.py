"""Praxis Hub's own member codes (issue 19 item 2): a code the practice prints for a member, ``PH1.<membership
id>.<signature>``, checked at the door without asking any provider.

The signature is an HMAC-SHA256 over the version, the practice and the membership, truncated to 128 bits and
base64url-encoded, under a key derived from SECRET_KEY for this purpose only. Because the practice is part of what
is signed, a code only opens the doors of the practice that issued it; a changed digit or signature is an unknown
code. A code stops working when its membership is unlinked (the check looks the membership up). Pure functions
apart from reading SECRET_KEY: no database, no network."""

import base64
import hashlib
import hmac
import re

import segno
from flask import current_app

PREFIX = "PH1"
CODE_KIND = "praxishub_code"
# What the key is derived for, so no other use of SECRET_KEY (sessions, CSRF) can produce a valid signature.
KEY_PURPOSE = b"praxis-hub/access/member-codes/v1"
SIGNATURE_BYTES = 16
_SHAPE = re.compile(r"PH1\.([1-9][0-9]{0,9})\.([A-Za-z0-9_-]{22})")


def _key():
    """The signing key: HMAC-SHA256 of the purpose under SECRET_KEY."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, KEY_PURPOSE, hashlib.sha256).digest()


def _signature(practice_id, membership_id):
    """The base64url signature (22 characters) of a membership of a practice."""
    message = f"{PREFIX}.{int(practice_id)}.{int(membership_id)}".encode()
    digest = hmac.new(_key(), message, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def member_code(membership):
    """The printed code of ``membership`` (a Membership of the access domain)."""
    return f"{PREFIX}.{membership.id}.{_signature(membership.practice_id, membership.id)}"


def parse(text):
    """(membership id as text, signature) when ``text`` has the form of a member code (surrounding whitespace
    allowed, as scanners add line ends), else None. The signature is not checked here: that needs the practice."""
    match = _SHAPE.fullmatch(text.strip()) if isinstance(text, str) else None
    return (match.group(1), match.group(2)) if match else None


def verify(practice_id, membership_id, signature):
    """The membership id (int) when ``signature`` is the practice's signature of it, else None (constant time)."""
    try:
        number = int(membership_id)
    except (TypeError, ValueError):
        return None
    expected = _signature(practice_id, number)
    return number if hmac.compare_digest(expected, str(signature or "")) else None


def qr_svg(code):
    """The code as an inline SVG QR image (segno: pure Python, no inline style, so the CSP allows it)."""
    return segno.make(code, error="m").svg_inline(scale=6, border=2, dark="#000", light="#fff", title=code)
