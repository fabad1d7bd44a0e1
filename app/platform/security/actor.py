"""Who performs an action and from where: services take an Actor so they never touch ``request``."""

from flask import g, request
from flask_login import current_user


class Actor:
    """The acting user (None for the system), the client address and user agent, and the practice acted for."""

    def __init__(self, user=None, ip=None, user_agent=None, practice_id=None):
        self.user = user
        self.ip = ip
        self.user_agent = (user_agent or "")[:300] or None
        self._practice_id = practice_id

    def acting_as(self, user):
        """The same client acting as ``user`` (after it has been identified, e.g. by a login)."""
        return Actor(user, self.ip, self.user_agent)

    @property
    def practice_id(self):
        """The actor's practice (the user's, or the one given for a CLI actor), or None."""
        return self.user.practice_id if self.user is not None else self._practice_id


def current_actor():
    """The Actor of the current request: the signed-in (or token) user, client address and user agent."""
    user = g.get("api_user") or (current_user if getattr(current_user, "is_authenticated", False) else None)
    if user is not None and hasattr(user, "_get_current_object"):
        user = user._get_current_object()
    return Actor(user=user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


def cli_actor(user=None, practice_id=None):
    """The Actor of a command run with ``flask`` on the server (recorded as such in the audit log)."""
    return Actor(user, user_agent="flask-cli", practice_id=practice_id)
