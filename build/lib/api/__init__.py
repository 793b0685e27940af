"""FastAPI app: the Stripe webhook receiver, health checks and the relink page."""
