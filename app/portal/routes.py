"""Meine Termine: the page a patient opens with a personal link, without an account."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/meine-termine")
