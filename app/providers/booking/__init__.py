"""The practice's own booking tool: it sends Standard Webhooks signed events for its patients and appointments,
following the event contract Praxis Hub defines (DESIGN.md §5)."""
