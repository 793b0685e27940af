"""The platform webhooks outbox: its rows, their bodies, the endpoint's standing."""
