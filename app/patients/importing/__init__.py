"""The import of the booking tool's patient export (CSV upload, or JSON through the API), one module per step:
decode, headers, validate (with validate_helper, the helper processes), plan, write, report, and the use cases in
service; routes holds the admin pages and models the job and its rows."""
