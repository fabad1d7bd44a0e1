"""The platform every domain stands on: extensions, database helpers, htmx and error handling, i18n, templating,
pagination, signals, and the security, jobs and audit sub-packages. It imports no domain package; domains plug
into it through its registries (job kinds, periodic tasks, audit labels, navigation, token authentication)."""
