"""The four pages (console, hospital panel, crew page, SOS app) and their static files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from data.settings import package_settings

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATE_DIR = WEB_DIR / "templates"
REPO_ROOT = WEB_DIR.parents[1]


class WebSettings(BaseSettings):
    """Where npm put the third-party packages, and the console's queue timer targets."""

    model_config = package_settings("LIFELINE_WEB_")

    #: ``npm ci`` output (``make web``); Leaflet is served from here, never from a CDN.
    node_modules: Path = REPO_ROOT / "node_modules"
    #: A case waiting longer than this (unanswered: raised, or triaged but not dispatched) is amber.
    queue_amber_seconds: float = Field(default=60, gt=0)
    #: ... and red after this.
    queue_red_seconds: float = Field(default=120, gt=0)
    #: Pages poll this often while the live connection is down.
    poll_seconds: float = Field(default=2.0, gt=0, le=60)


def page(name: str, settings: WebSettings) -> str:
    """A page's HTML with its settings inlined (no template engine needed for one JSON blob)."""
    config = {
        "queue_amber_seconds": settings.queue_amber_seconds,
        "queue_red_seconds": settings.queue_red_seconds,
        "poll_seconds": settings.poll_seconds,
    }
    html = (TEMPLATE_DIR / f"{name}.html").read_text(encoding="utf-8")
    return html.replace("{{CONFIG}}", json.dumps(config).replace("<", "\\u003c"))


def leaflet_dir(settings: WebSettings) -> Path:
    """Leaflet's dist folder (may be missing before ``make web``: pages then say so)."""
    return Path(os.fspath(settings.node_modules)) / "leaflet" / "dist"
