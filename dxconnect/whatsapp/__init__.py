"""WhatsApp: the driver interface, session and message services, and the dispatcher."""
