"""Paying again the invoices that failed on a broken bank account (RECOVER_FAILED_PAYMENTS)."""
