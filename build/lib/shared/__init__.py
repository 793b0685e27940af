"""What the api and the worker both use: settings, database, models, Stripe client, inbox."""
