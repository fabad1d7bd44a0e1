"""E-mail: the outbox table every mail is written to (models), rendering and queueing (service), SMTP (sender),
the job kind that delivers a mail (jobs) and the admins' outbox page (routes). It knows no domain: the domains
write their mails with ``queue_mail`` and their own templates under ``templates/mail/messages/``."""

from flask_babel import lazy_gettext as _l


def init_app(app):
    """Register the delivery job kind, the hourly clean-up of old mails, the outbox page, its navigation entry and
    audit labels."""
    from app.platform.audit.labels import register_action_labels
    from app.platform.jobs.registry import register_job_kind, register_periodic
    from app.platform.mail.jobs import deliver_mail
    from app.platform.mail.routes import bp
    from app.platform.mail.service import DELIVER_JOB_KIND, prune_outbox
    from app.platform.templating import add_navigation

    register_job_kind(app, DELIVER_JOB_KIND, deliver_mail)
    register_periodic(app, "mail", prune_outbox)
    app.register_blueprint(bp)
    add_navigation(app, 65, "mail.index", _l("Outbox"), "mail.outbox")
    register_action_labels({"mail.read": _l("E-mail opened in the outbox"),
                            "mail.resend": _l("E-mail sent again from the outbox")})
