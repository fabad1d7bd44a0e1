"""htmx request and response helpers."""

import json

from flask import flash, make_response, redirect, request


def is_htmx() -> bool:
    """True for a request made by htmx (not a boosted navigation, which wants a full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def wants_fragment(target_id: str) -> bool:
    """True when htmx asks to swap the element ``target_id``; the response then varies on the htmx headers."""
    request.environ["praxis.vary_htmx"] = True
    return is_htmx() and request.headers.get("HX-Target") == target_id


def hx_trigger(response, event: str, data=None):
    """Add an event to the response's HX-Trigger header, merging with events already there."""
    existing = response.headers.get("HX-Trigger")
    events = json.loads(existing) if existing else {}
    events[event] = data if data is not None else {}
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def toast(response, text: str, level: str = "success"):
    """Ask app.js to show a toast after this response (works for 4xx/5xx too)."""
    return hx_trigger(response, "toast", {"level": level, "text": str(text)})


def fragment_response(body, message=None, *, level="success", status=200, events=()):
    """``body`` (a fragment for htmx) with ``status``, a toast of ``message`` when there is one and then ``events``
    in HX-Trigger, so one answer updates the swapped region, tells the user and refreshes the other widgets."""
    response = make_response(body, status)
    if message:
        toast(response, message, level)
    for event in events:
        hx_trigger(response, event)
    return response


def mutation_response(render, message, *, redirect_to, level="success", status=200, events=(), target=None):
    """The answer to a form post that changed something: for htmx, ``render()`` (the updated fragment) through
    ``fragment_response``; otherwise ``message`` flashed and a 303 to ``redirect_to``, because flash() is for
    full-page redirects only. ``render`` is called only for htmx, so a redirect renders nothing. ``target``: answer
    with the fragment only when htmx swaps that element (``wants_fragment``); by default for any htmx request."""
    if not (wants_fragment(target) if target else is_htmx()):
        if message:
            flash(message, level)
        return redirect(redirect_to, code=303)
    return fragment_response(render(), message, level=level, status=status, events=events)


def redirect_response(target, message=None, *, level="success"):
    """Leave the page for ``target`` after a change that alters the whole page, with ``message`` flashed for it:
    htmx gets 204 with HX-Redirect (a swap would put a whole page into a region), anything else a 303."""
    if message:
        flash(message, level)
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def validate_attrs(url, trigger="change"):
    """The htmx attributes of a field's wrapper for inline validation: post the field to ``url`` on ``trigger`` and
    swap the wrapper for the checked field; a newer check replaces one still in flight."""
    return {"hx-post": url, "hx-trigger": trigger, "hx-target": "this", "hx-swap": "outerHTML",
            "hx-sync": "this:replace"}


def add_vary(response):
    """after_request: responses that branched on htmx headers vary on them, so caches keep pages and fragments
    apart."""
    if request.environ.get("praxis.vary_htmx") or request.headers.get("HX-Request"):
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
    return response
