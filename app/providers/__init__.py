"""Everything a provider means lives in its own package here (its webhooks, later its client and sync); the core
works on the plain domain types of app.providers.events and finds the providers through app.providers.registry."""
