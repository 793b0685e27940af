"""The relink page: a signed link opens a Stripe relink session for the customer."""
