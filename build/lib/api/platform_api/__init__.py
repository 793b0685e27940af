"""The platform JSON API under /api/v1."""
