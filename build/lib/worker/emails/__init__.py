"""Relink emails: the outbox, rendering, transport, contacts and reminders."""
