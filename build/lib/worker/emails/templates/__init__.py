"""Jinja2 email templates (a package so the wheel ships them)."""
