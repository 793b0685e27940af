"""Relink cases: accounts, deactivation, reactivation, reconciliation and sweeps."""
