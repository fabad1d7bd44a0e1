"""The accounts blueprints, one module each: auth, users, account and the dashboard."""
