"""The htmx answer helpers: one way to answer a mutation, a fragment with its toast and events, leaving the page,
and the attributes of inline validation."""

import json

from flask import get_flashed_messages

from app.platform.htmx import fragment_response, mutation_response, redirect_response, validate_attrs

HTMX = {"HX-Request": "true", "HX-Target": "things"}


def _fragment():
    """The updated fragment a test mutation renders."""
    return '<div id="things">new</div>'


def test_mutation_answers_htmx_with_the_fragment_a_toast_and_the_events(app):
    """For htmx: the fragment with its status, the toast first and then each event in HX-Trigger; nothing flashed."""
    with app.test_request_context(method="POST", headers=HTMX):
        response = mutation_response(_fragment, "Saved.", redirect_to="/things", status=200,
                                     events=("things-changed",), target="things")
        assert response.status_code == 200 and response.get_data(as_text=True) == _fragment()
        assert response.headers["HX-Trigger"] == json.dumps(
            {"toast": {"level": "success", "text": "Saved."}, "things-changed": {}})
        assert get_flashed_messages() == []


def test_mutation_without_htmx_flashes_and_redirects_without_rendering(app):
    """Without htmx (or when htmx swaps another element): the message flashed, 303, and no fragment rendered."""

    def must_not_render():
        raise AssertionError("a redirect renders nothing")

    for headers in ({}, {"HX-Request": "true", "HX-Target": "elsewhere"}, {**HTMX, "HX-Boosted": "true"}):
        with app.test_request_context(method="POST", headers=headers):
            response = mutation_response(must_not_render, "Failed.", redirect_to="/things", level="error",
                                         target="things")
            assert response.status_code == 303 and response.location == "/things"
            assert "HX-Trigger" not in response.headers
            assert get_flashed_messages(with_categories=True) == [("error", "Failed.")]


def test_fragment_response_without_a_message_sends_only_the_events(app):
    """No message, no toast: HX-Trigger holds just the events (and is absent without any)."""
    with app.test_request_context():
        assert fragment_response("<p>x</p>", events=("import-changed",)).headers["HX-Trigger"] == (
            '{"import-changed": {}}')
        assert "HX-Trigger" not in fragment_response("<p>x</p>", status=422).headers


def test_redirect_response_reloads_htmx_through_hx_redirect(app):
    """htmx gets 204 with HX-Redirect, a plain request 303; the message is flashed for the next page either way."""
    with app.test_request_context(method="POST", headers=HTMX):
        response = redirect_response("/things/1", "Archived.")
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/things/1"
        assert get_flashed_messages() == ["Archived."]
    with app.test_request_context(method="POST"):
        response = redirect_response("/things/1")
        assert response.status_code == 303 and response.location == "/things/1"
        assert get_flashed_messages() == []


def test_validate_attrs():
    """The wrapper posts to the URL on the trigger, swaps itself, and a newer check replaces a running one."""
    assert validate_attrs("/things/validate/name", "focusout") == {
        "hx-post": "/things/validate/name", "hx-trigger": "focusout", "hx-target": "this", "hx-swap": "outerHTML",
        "hx-sync": "this:replace"}
