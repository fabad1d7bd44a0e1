"""Talking SMTP: build the MIME message of a stored mail and hand it to the configured mail server (MAIL_SMTP_*),
with a timeout on every socket operation and TLS verified against the system's certificate store."""

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SECURITY_MODES = ("starttls", "ssl", "none")


class MailDeliveryError(Exception):
    """The mail server could not take the mail. ``permanent`` (an SMTP 5xx answer) means trying again will not
    help; ``reason`` is what the outbox may show: the exception class and SMTP code, never the server's text."""

    def __init__(self, reason, permanent=False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def build_email(sender, recipient, subject, text, html=None):
    """The MIME message: plain text, with an HTML alternative when there is one."""
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    email.set_content(text)
    if html:
        email.add_alternative(html, subtype="html")
    return email


def send_email(config, email):
    """Deliver ``email`` through the server that ``config`` (the app's config) names; raises MailDeliveryError."""
    security = config["MAIL_SMTP_SECURITY"]
    if security not in SECURITY_MODES:
        raise MailDeliveryError(f"MAIL_SMTP_SECURITY={security!r} is not one of {', '.join(SECURITY_MODES)}",
                                permanent=True)
    host, port, timeout = config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], config["MAIL_SMTP_TIMEOUT_SECONDS"]
    try:
        if security == "ssl":
            connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(host, port, timeout=timeout)
        with connection:
            if security == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if config["MAIL_SMTP_USER"]:
                connection.login(config["MAIL_SMTP_USER"], config["MAIL_SMTP_PASSWORD"])
            connection.send_message(email)
    except smtplib.SMTPRecipientsRefused as error:
        codes = sorted({code for code, _text in error.recipients.values()})
        raise MailDeliveryError(_reason(error, codes[0] if codes else None),
                                permanent=all(code >= 500 for code in codes)) from None
    except smtplib.SMTPResponseException as error:
        raise MailDeliveryError(_reason(error, error.smtp_code), permanent=error.smtp_code >= 500) from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailDeliveryError(_reason(error)) from None


def _reason(error, code=None):
    """``SMTPDataError 554`` or ``ConnectionRefusedError``: what may be stored and logged about a failure."""
    return f"{type(error).__name__} {code}" if code else type(error).__name__
