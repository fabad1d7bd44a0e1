"""Retell.ai, the voice agent: its call webhooks (x-retell-signature) turned into the practice's call log."""
