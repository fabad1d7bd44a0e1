"""The scheduling settings as an admin clicks through them: add a device, an appointment type that needs it, a
therapist's working hours and an absence, and see the appointment the absence now collides with."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.models import User
from app.appointments.models import Appointment
from app.platform.extensions import db
from app.tenancy.models import Practice

pytestmark = pytest.mark.e2e


@pytest.fixture
def booked_therapist(live_app):
    """A demo therapist with a booking-tool appointment in three weeks at 10:00 UTC; (name, its day)."""
    day = (datetime.now(UTC) + timedelta(days=21)).date()
    with live_app.app_context():
        practice = db.session.scalar(select(Practice).order_by(Practice.id))
        therapist = db.session.scalar(select(User).where(User.practice_id == practice.id, User.role == "therapist",
                                                         User.active.is_(True)).order_by(User.id))
        start = datetime.combine(day, datetime.min.time(), UTC).replace(hour=10)
        db.session.add(Appointment(practice_id=practice.id, source="booking", external_id=f"e2e-{uuid4().hex}",
                                   starts_at=start, ends_at=start + timedelta(minutes=30), therapist_id=therapist.id,
                                   therapist_name=therapist.name, service_name="Krankengymnastik"))
        db.session.commit()
        return therapist.name, day


def test_admin_sets_up_a_device_type_hours_and_an_absence(page, base_url, sign_in, booked_therapist, translate):
    therapist, day = booked_therapist
    suffix = uuid4().hex[:6]
    sign_in("admin@demo.test")
    page.locator("#main-nav a[href='/scheduling/']").click()
    expect(page).to_have_url(f"{base_url}/scheduling/")
    expect(page.locator("h1")).to_have_text(translate("Scheduling"))

    devices = page.locator("#scheduling-resources-form")
    devices.locator("[name=name]").fill(f"Stoßwellengerät {suffix}")
    devices.locator("[name=kind]").fill("device")
    devices.get_by_role("button", name=translate("Add")).click()
    expect(page.locator("#scheduling-resources-table")).to_contain_text(f"Stoßwellengerät {suffix}")

    types = page.locator("#scheduling-types-form")
    types.locator("[name=name]").fill(f"Stoßwellentherapie {suffix}")
    types.locator("[name=duration]").fill("0")
    types.get_by_role("button", name=translate("Add")).click()
    expect(page.locator("#scheduling-types-duration-errors")).to_have_text(
        translate("%(field)s must be at least %(minimum)d.", field="duration", minimum=1))
    types = page.locator("#scheduling-types-form")
    types.locator("[name=duration]").fill("15")
    types.locator("[name=needs_room]").check()
    types.locator("[name=device]").select_option(label=f"Stoßwellengerät {suffix} ({devices_location(page)})")
    types.get_by_role("button", name=translate("Add")).click()
    expect(page.locator("#scheduling-types-table")).to_contain_text(
        f"1 × {translate('treatment room')}, Stoßwellengerät {suffix}")

    hours = page.locator("#scheduling-hours-form")
    hours.locator("[name=doctor]").select_option(label=therapist)
    hours.locator("[name=weekday]").select_option(str(day.weekday()))
    hours.locator("[name=start_time]").fill("16:00")  # the demo plan ends at 16:00; this adds an evening
    hours.locator("[name=end_time]").fill("19:00")
    hours.locator("[name=valid_from]").fill(f"{day.year}-01-01")
    hours.get_by_role("button", name=translate("Add")).click()
    expect(page.locator("#scheduling-hours-table")).to_contain_text(therapist)

    absence = page.locator("#scheduling-absences-form")
    absence.locator("[name=doctor]").select_option(label=therapist)
    absence.locator("[name=start_time]").fill(f"{day.isoformat()}T00:00")
    absence.locator("[name=end_time]").fill(f"{(day + timedelta(days=1)).isoformat()}T00:00")
    absence.locator("[name=reason]").select_option("training")
    absence.get_by_role("button", name=translate("Add")).click()
    colliding = page.locator("#scheduling-absences-colliding")
    expect(colliding).to_contain_text(translate(
        "These future appointments now collide with the changed rules; please move them:"))
    expect(colliding).to_contain_text(day.strftime("%d.%m.%Y"))
    expect(page.locator("#scheduling-absences-table")).to_contain_text(translate("Further training"))


def devices_location(page):
    """The location the device was added at (the first one offered in the form)."""
    return page.locator("#scheduling-resources-table tbody tr").last.locator("td").nth(2).inner_text()


def test_admin_edits_hours_sees_collisions_and_deactivates_a_type_in_use(page, base_url, sign_in, translate):
    """Narrowing a therapist's Monday lists the demo appointments now outside the hours; putting the hours back
    takes them off the list; deleting a type in use only deactivates it, and it can be activated again."""
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in("admin@demo.test")
    page.goto(f"{base_url}/scheduling/")
    monday = page.locator("#scheduling-hours-table tbody tr").filter(has_text="Thomas Therapeut").filter(
        has_text=translate("Monday"))
    monday.get_by_role("button", name=translate("Edit")).click()
    form = page.locator("#scheduling-hours-form")
    expect(form.locator("[name=start_time]")).to_have_value("08:00")
    form.locator("[name=start_time]").fill("12:00")
    form.locator("[name=end_time]").fill("11:00")
    form.get_by_role("button", name=translate("Save")).click()
    expect(page.locator("#scheduling-hours-end_time-errors")).to_have_text(
        translate("The end must be after the start."))
    form = page.locator("#scheduling-hours-form")
    form.locator("[name=end_time]").fill("16:00")
    form.get_by_role("button", name=translate("Save")).click()
    colliding = page.locator("#scheduling-hours-colliding")
    expect(colliding).to_contain_text(translate(
        "These future appointments now collide with the changed rules; please move them:"))
    outside = translate("%(name)s does not work at %(location)s at this time.", name="Thomas Therapeut",
                        location="Praxis am Park – Mitte")
    expect(colliding).to_contain_text(outside)
    expect(page.locator("#scheduling-hours-table")).to_contain_text("12:00–16:00")

    monday = page.locator("#scheduling-hours-table tbody tr").filter(has_text="Thomas Therapeut").filter(
        has_text=translate("Monday"))
    monday.get_by_role("button", name=translate("Edit")).click()
    # The add form and the edit form share the id: wait for the edit form (the row's 12:00) before typing, or the
    # time typed lands in the add form the edit form then replaces, and the unchanged 12:00 is saved.
    form = page.locator("#scheduling-hours-form")
    expect(form.locator("[name=start_time]")).to_have_value("12:00")
    form.locator("[name=start_time]").fill("08:00")
    form.get_by_role("button", name=translate("Save")).click()
    expect(monday).to_contain_text("08:00–16:00")
    expect(page.locator("#scheduling-hours-colliding")).not_to_contain_text(outside)

    row = page.locator("#scheduling-types-table tbody tr").filter(has_text="Krankengymnastik")
    row.get_by_role("button", name=translate("Deactivate")).click()
    row = page.locator("#scheduling-types-table tbody tr").filter(has_text="Krankengymnastik")
    expect(row).to_contain_text(translate("no"))
    row.get_by_role("button", name=translate("Activate")).click()
    expect(page.locator("#scheduling-types-table tbody tr").filter(has_text="Krankengymnastik")).to_contain_text(
        translate("yes"))
