"""Real-time delivery: the outbox relay, Redis fan-out, WebSocket and SSE."""
