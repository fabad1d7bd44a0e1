""""Per E-Mail senden" on a patient's "Meine Termine" link: mails the working link to the patient's own address in
the practice's language, audited with the patient; refused without an address or for a dead link; out-of-scope
patients and other practices' links answer 404."""

import json
import re

from sqlalchemy import select

from app.patients.links import create_link, revoke_link
from app.platform.audit.models import AuditEntry
from app.platform.database import utcnow
from app.platform.mail.models import MailMessage
from app.platform.mail.service import message_bodies
from app.platform.security.actor import Actor
from tests.helpers import htmx


def new_link(patient, user):
    """A fresh link for ``patient`` created by ``user``."""
    return create_link(Actor(user), patient, utcnow())


def send(client, patient, link_id):
    """Press "Per E-Mail senden" (htmx) for ``link_id``."""
    return client.post(f"/patients/{patient.id}/meine-termine/send", data={"link_id": link_id},
                       headers=htmx("patient-links"))


def test_the_link_is_mailed_to_the_patient_and_opens_their_appointments(client, auth, make_patient, db):
    """The button shows beside a working link; the mail is German, names the practice and carries the link, which
    opens "Meine Termine"; the toast says where the mail is; the audit names the patient."""
    user = auth.login("assistant")
    patient = make_patient(first_name="Jana", last_name="Berg", email="jana.berg@example.test")
    link = new_link(patient, user)
    tab = client.get(f"/patients/{patient.id}/termine").get_data(as_text=True)
    assert f'id="mail-access-link-{link.id}"' in tab and "Per E-Mail senden" in tab
    response = send(client, patient, link.id)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<article id="patient-links"')
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["text"] == "Die E-Mail liegt im Postausgang (es ist kein Mailserver eingerichtet)."
    [mail] = db.session.scalars(select(MailMessage)).all()
    assert mail.kind == "patients.access_link" and mail.recipient == "jana.berg@example.test"
    assert mail.subject == "Ihre Termine bei Praxis am Test" and mail.practice_id == patient.practice_id
    text, _html = message_bodies(mail)
    assert "Hallo Jana Berg," in text and re.search(r"bis zum \d\d\.\d\d\.\d{4} gültig", text)
    url = re.search(r"http://localhost(/meine-termine/\S+)", text).group(1)
    auth.logout()
    assert client.get(url).status_code == 200
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "patient_access_link.mail"))
    assert entry.patient_id == patient.id and entry.object_id == str(link.id) and entry.meta["mail"] == mail.id


def test_with_a_mail_server_the_toast_says_it_was_sent(app, client, auth, make_patient, db):
    """With MAIL_SMTP_HOST the mail is queued for delivery."""
    app.config.update(MAIL_SMTP_HOST="smtp.example.test")
    user = auth.login("assistant")
    patient = make_patient(email="jana@example.test")
    response = send(client, patient, new_link(patient, user).id)
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["text"] == "Der Link wurde per E-Mail an jana@example.test verschickt."


def test_no_button_and_a_refusal_without_an_address(client, auth, make_patient, db):
    """No e-mail address: no button, and a forged request answers 422 with the reason; nothing is written."""
    user = auth.login("assistant")
    patient = make_patient(email=None)
    link = new_link(patient, user)
    assert f'id="mail-access-link-{link.id}"' not in client.get(f"/patients/{patient.id}/termine").get_data(
        as_text=True)
    response = send(client, patient, link.id)
    assert response.status_code == 422
    assert "keine E-Mail-Adresse" in json.loads(response.headers["HX-Trigger"])["toast"]["text"]
    assert db.session.scalar(select(MailMessage.id)) is None


def test_a_revoked_link_is_not_mailed(client, auth, make_patient, db):
    """A link that stopped working is refused with 422."""
    user = auth.login("assistant")
    patient = make_patient(email="jana@example.test")
    link = new_link(patient, user)
    revoke_link(Actor(user), patient, link.id, utcnow())
    assert send(client, patient, link.id).status_code == 422
    assert db.session.scalar(select(MailMessage.id)) is None


def test_out_of_scope_links_and_patients_are_not_found(client, auth, make_patient, make_user, other_practice, db):
    """Another patient's link, another practice's patient, a therapist's non-own patient and a malformed id: 404;
    billing may not send at all."""
    user = auth.login("assistant")
    patient = make_patient(email="jana@example.test")
    other = make_patient(email="otto@example.test")
    foreign = make_patient(practice=other_practice, email="fremd@example.test")
    other_link = new_link(other, user)
    foreign_link = new_link(foreign, make_user(role="assistant", practice=other_practice))
    assert send(client, patient, other_link.id).status_code == 404
    assert send(client, foreign, foreign_link.id).status_code == 404
    assert client.post(f"/patients/{patient.id}/meine-termine/send", data={"link_id": "x"}).status_code == 404
    auth.logout()
    auth.login("therapist")
    assert send(client, other, other_link.id).status_code == 404
    auth.logout()
    auth.login("billing")
    assert send(client, other, other_link.id).status_code == 403
    assert db.session.scalar(select(MailMessage.id)) is None
