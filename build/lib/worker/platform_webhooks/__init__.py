"""Platform webhooks: deliver the `platform_event` outbox to PLATFORM_WEBHOOK_URL, signed the
Standard Webhooks way, with backoff, a per-endpoint in-flight limit, and replays."""
