"""Web Push reminders: VAPID identity, subscriptions, sender and the reminder job (docs/push.md)."""
