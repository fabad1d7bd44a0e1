"""CLI commands: demo data, users, tokens and key rotation."""

from sqlalchemy import func, select

from app.accounts.models import ApiToken, User
from app.demo import DEMO_PASSWORD
from app.patients.models import Patient
from app.platform.security.passwords import verify_password
from app.tenancy.models import Practice


def test_demo_is_idempotent(runner, db):
    """Running demo twice leaves one copy of everything."""
    assert runner.invoke(args=["demo"]).exit_code == 0
    counts = (db.session.scalar(select(func.count(Practice.id))), db.session.scalar(select(func.count(User.id))))
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0 and "0 records created" in second.output
    assert counts == (2, 6)
    again = (db.session.scalar(select(func.count(Practice.id))), db.session.scalar(select(func.count(User.id))))
    assert again == counts
    admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
    assert admin.role == "admin" and verify_password(admin.password_hash, DEMO_PASSWORD)
    assert admin.practice.slug == "demo" and admin.practice.timezone == "Europe/Berlin"
    assert len(admin.practice.locations) == 2
    therapist_patients = db.session.scalars(
        select(Patient.last_name).join(User, Patient.therapist_id == User.id).where(User.email == "therapeut@demo.test")
    ).all()
    assert sorted(therapist_patients) == ["Becker", "Schulz", "Weber"]
    assert db.session.scalar(select(func.count(Patient.id))) == 7


def test_tokens_create_prints_only_the_token(runner, db, make_user):
    """`flask tokens create` prints the token alone on stdout, usable at once."""
    user = make_user()
    result = runner.invoke(args=["tokens", "create", "--email", user.email.upper(), "--name", "Export"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert result.output == token + "\n" and token.startswith("phk_")
    assert db.session.scalar(select(ApiToken.token_hash)) == ApiToken.hash_token(token)


def test_tokens_create_for_unknown_email_fails_clearly(runner):
    """An unknown email is an error with a message, exit code 1."""
    result = runner.invoke(args=["tokens", "create", "--email", "nobody@example.test", "--name", "x"])
    assert result.exit_code == 1 and "No user with email" in result.output


def test_users_create(runner, db, practice):
    """`flask users create` makes a user with the given password; bad input is refused."""
    result = runner.invoke(args=["users", "create", "--practice", practice.slug, "--email", "neu@example.test",
                                 "--name", "Neu", "--role", "billing", "--password", "ein langes Passwort"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "neu@example.test"))
    assert user.role == "billing" and verify_password(user.password_hash, "ein langes Passwort")
    short = runner.invoke(args=["users", "create", "--practice", practice.slug, "--email", "b@example.test",
                                "--name", "B", "--password", "kurz"])
    assert short.exit_code == 1 and "mindestens 10 Zeichen" in short.output
    unknown = runner.invoke(args=["users", "create", "--practice", "nope", "--email", "c@example.test",
                                  "--name", "C", "--password", "ein langes Passwort"])
    assert unknown.exit_code == 1 and "No practice" in unknown.output


def test_rotate_keys_command(runner):
    """`flask crypto rotate-keys` reports how many secrets it re-encrypted."""
    result = runner.invoke(args=["crypto", "rotate-keys"])
    assert result.exit_code == 0 and "Re-encrypted 0 secrets" in result.output
