"""htmx request and response helpers."""

import json

from flask import request


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


def add_vary(response):
    """after_request: responses that branched on htmx headers vary on them, so caches keep pages and fragments
    apart."""
    if request.environ.get("praxis.vary_htmx") or request.headers.get("HX-Request"):
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
    return response
