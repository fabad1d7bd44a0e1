"""Practice settings: default therapist, booking page URL template, time zone."""

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/settings")
