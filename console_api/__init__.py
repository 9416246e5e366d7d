"""The HTTP composition root: the FastAPI app, its routers, auth dependencies and web pages."""
