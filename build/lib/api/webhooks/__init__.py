"""Receiving Stripe webhooks: verify the signature, record in the inbox, enqueue."""
