"""The audit log: an append-only record of who did what, protected against UPDATE and DELETE by triggers."""

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.platform.database import UTCDateTime, make_append_only, utcnow
from app.platform.extensions import db


class AuditEntry(db.Model):
    """One audited action. ``user_id`` is null for actions by unknown people (a failed login for an unknown
    email); ``patient_id`` lets a patient's record show its history."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_practice_id_created_at", "practice_id", "created_at"),
        Index("ix_audit_log_practice_id_action", "practice_id", "action"),
        Index("ix_audit_log_practice_id_user_id", "practice_id", "user_id"),
        Index("ix_audit_log_practice_id_patient_id", "practice_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    user = relationship("User")


make_append_only(AuditEntry.__table__)
