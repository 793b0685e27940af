"""A stateful, in-memory simulator of the Stripe Financial Connections API surface relink uses."""
