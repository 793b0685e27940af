"""Stripe events as relink receives them: the inbox, the handled types, replay."""
