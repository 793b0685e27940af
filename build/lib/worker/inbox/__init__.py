"""Processing recorded events: one handler per Stripe event type, exactly once in effect."""
