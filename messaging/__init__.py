"""SMS to crews and patients:
a transactional message outbox, Twilio or a local store as transport."""
