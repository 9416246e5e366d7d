"""ASGI entry point for uvicorn workers: `console_api.main:app`."""

from console_api.app import create_app

app = create_app()
