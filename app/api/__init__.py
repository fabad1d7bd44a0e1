"""The JSON API for external systems and scripts (Bearer tokens, JSON errors): the /api blueprint, its health
check and the helpers every domain's ``api`` module shares. Each domain attaches its endpoints in its own ``api``
module, imported by the domain's ``init_app``; so ``init_app`` here runs after every domain's."""


def init_app(app):
    """Register the /api blueprint with every domain's endpoints attached."""
    from app.api import routes

    app.register_blueprint(routes.bp)
