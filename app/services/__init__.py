"""Use cases still waiting to move into their domain packages (see app/platform and DESIGN.md §2)."""
