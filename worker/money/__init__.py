"""Money at stake on a case: what the broken account bills, and what failed on it."""
