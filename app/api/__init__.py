"""The JSON API for external systems and scripts (Bearer tokens, JSON errors): the /api blueprint, its health
check and shared helpers. Each domain attaches its endpoints to the blueprint in its own ``api`` module, imported
by the domain's ``init_app``; so ``init_app`` here runs after every domain's."""

from app.api.routes import bp


def init_app(app):
    """Register the /api blueprint with every domain's endpoints attached."""
    app.register_blueprint(bp)
