"""Writing relink emails into the outbox (worker/emails sends them)."""
