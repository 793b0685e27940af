"""The `relink` command: dev stack, migrations and the operator commands."""
