"""Relink emails: rendering, the message, the transport and the outbox that drives them."""
