"""What every domain's JSON endpoints share: reading a JSON body, the paging arguments and the list envelope."""

from flask import request, url_for
from flask_babel import gettext as _

from app.platform.errors import json_error

MAX_PER_PAGE = 100  # the most items one page of a list endpoint holds


def json_body(expected_type):
    """The request's JSON body of ``expected_type``, or a JSON error response (415, 400) to return."""
    if not request.is_json:
        return None, json_error(415, "unsupported_media_type", _("Send the body as application/json."))
    body = request.get_json(silent=True)
    if body is None:
        return None, json_error(400, "malformed_json", _("The body is not valid JSON."))
    if not isinstance(body, expected_type):
        kind = _("an object") if expected_type is dict else _("an array or an object")
        return None, json_error(400, "wrong_type", _("The body must be %(kind)s.", kind=kind))
    return body, None


def page_args(default_per_page):
    """``?page=`` (from 1) and ``?per_page=`` (1 to MAX_PER_PAGE, ``default_per_page`` when absent) of a list
    endpoint, as (page, per_page, None), or (None, None, the JSON 400 to return) when either is not a number."""
    try:
        page = max(int(request.args.get("page", 1)), 1)
        per_page = min(max(int(request.args.get("per_page", default_per_page)), 1), MAX_PER_PAGE)
    except ValueError:
        return None, None, json_error(400, "bad_parameter", _("page and per_page must be whole numbers."))
    return page, per_page, None


def paged_json(page, result, item_json):
    """The list envelope ``{"count", "next", "previous", "results"}`` of page ``page`` of ``result`` (a
    Pagination), each item through ``item_json``; the links repeat this endpoint's query string."""
    link_args = {key: value for key, value in request.args.items() if key != "page"}

    def link(number):
        return url_for(request.endpoint, **{"page": number, **link_args, **request.view_args}, _external=True)

    return {
        "count": result.total,
        "next": link(page + 1) if result.has_next else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": [item_json(item) for item in result.items],
    }
