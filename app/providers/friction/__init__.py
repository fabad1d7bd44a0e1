"""Friction (Apptive): the access provider's adapter (issue 19, ../shared/contracts/PROVIDERS.md)."""
