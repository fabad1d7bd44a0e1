"""Patients: list and search, the record with its tabs, create, edit, archive, restore, booking link, import."""

from app.patients import imports  # noqa: F401 (registers the import views on bp)
from app.patients.routes import bp

__all__ = ["bp"]
