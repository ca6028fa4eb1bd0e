"""WhatsApp: session, outbox, lease and their live-server tests."""
