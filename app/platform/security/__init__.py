"""Security by concern: the role table (permissions), the access guard every request passes (guard), password and
token hashing (passwords), secrets at rest (crypto), response headers (headers) and who acts (actor)."""
