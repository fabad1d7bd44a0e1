"""The scheduling engine on plain data: calendar rules, the conflict check and slot suggestions."""
