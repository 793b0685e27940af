"""Switching the platform's payments to the PaymentMethod saved on the relink page."""
