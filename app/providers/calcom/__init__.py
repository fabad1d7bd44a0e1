"""Cal.com: its booking webhooks (X-Cal-Signature-256, the 2021-10-20 payload) turned into appointments."""
