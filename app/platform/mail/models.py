"""The outbox: every e-mail the app writes is one row here, stored in the transaction of the change that causes it
(an invite with its user, a reset link with its request) and delivered afterwards by the worker, so no transaction
is ever held open across an SMTP conversation."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.database import UTCDateTime, utcnow
from app.platform.extensions import db

# Without MAIL_SMTP_HOST (the embedded run) a mail is kept for the outbox page and never sent.
HELD = "held"
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
MAIL_STATUSES = (HELD, QUEUED, SENT, FAILED)


class MailMessage(db.Model):
    """One e-mail: who gets it, its rendered subject and bodies, and its delivery state. ``kind`` names the use case
    that wrote it (``accounts.invite``, ``accounts.password_reset``, ``patients.access_link``) and is what the log
    shows; the bodies hold sign-in and appointment links and patients' names, so they are encrypted at rest and
    never logged."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        Index("ix_mail_messages_practice_id_created_at", "practice_id", "created_at"),
        Index("ix_mail_messages_recipient_kind_created_at", "recipient", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"))
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, info={"encrypted": True})
    body_html: Mapped[str | None] = mapped_column(Text, info={"encrypted": True})
    status: Mapped[str] = mapped_column(String(16), default=HELD)
    # Delivery attempts made so far, and the last one's failure (an exception class and SMTP code, never its text,
    # which may quote the recipient).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def recipient_domain(self):
        """The part of the address after ``@``: all the log may say about the recipient."""
        return self.recipient.rpartition("@")[2] or "?"

    def __repr__(self):
        return f"<MailMessage {self.id} {self.kind} {self.status}>"
