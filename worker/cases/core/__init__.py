"""The cases core: the whole case lifecycle as plain functions over immutable values, with no
database, clock, Stripe, Celery or logging. `decide(state, fact)` returns the new state and
the effects (worker/cases/core/effects.py) the shell applies; docs/architecture.md says
where."""
