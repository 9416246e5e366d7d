"""HTTP routers; each is thin: parse, call one service function, shape the response."""
