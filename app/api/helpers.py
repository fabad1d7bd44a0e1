"""What every domain's JSON endpoints share: reading a JSON body, the paging arguments and the list envelope."""

from flask import request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.platform import json_input
from app.platform.errors import json_error

MAX_PER_PAGE = 100  # the most items one page of a list endpoint holds


# What to tell the client about a body that json_input refused, by UnreadableJSON.kind.
UNREADABLE_MESSAGES = {
    json_input.NOT_UTF8: _l("The body is not UTF-8 text."),
    json_input.SYNTAX: _l("The body is not valid JSON."),
    json_input.TOO_DEEP: _l("The body nests arrays and objects more than %(depth)d levels deep.",
                            depth=json_input.MAX_DEPTH),
    json_input.NUMBER: _l("The body holds a number that is longer than %(length)d characters or too large.",
                          length=json_input.MAX_NUMBER_LENGTH),
    json_input.NUL: _l("The body holds the NUL character (\\u0000), which cannot be stored."),
    json_input.SURROGATE: _l("The body holds half of a UTF-16 surrogate pair (\\ud800 to \\udfff), which is not "
                             "text."),
}


def json_body(expected_type):
    """The request's JSON body of ``expected_type``, or a JSON error response (415, 400) to return. The body is
    read with app.platform.json_input, so its nesting, its numbers and its characters cannot cause a 500."""
    if not request.is_json:
        return None, json_error(415, "unsupported_media_type", _("Send the body as application/json."))
    try:
        body = json_input.load_json(request.get_data(cache=True))
    except json_input.UnreadableJSON as error:
        return None, json_error(400, "malformed_json", str(UNREADABLE_MESSAGES[error.kind]))
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
