"""HTML pages and their static assets, served by the app itself (no CDN, no external tiles)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from console_api.web import STATIC_DIR, WebSettings, leaflet_dir, page

router = APIRouter(include_in_schema=False)
settings = WebSettings()


@router.get("/")
async def home() -> RedirectResponse:
    """The operator's console is the front door; patients use /sos."""
    return RedirectResponse("/console")


@router.get("/console", response_class=HTMLResponse)
async def console_page() -> HTMLResponse:
    """Command console for emergency operators."""
    return HTMLResponse(page("console", settings))


@router.get("/hospital", response_class=HTMLResponse)
async def hospital_page() -> HTMLResponse:
    """Hospital admin panel: incoming cases, acknowledgement, ED status."""
    return HTMLResponse(page("hospital", settings))


@router.get("/doctor", response_class=HTMLResponse)
async def doctor_page() -> HTMLResponse:
    """Doctor portal: availability, today's agenda, charts and break-glass."""
    return HTMLResponse(page("doctor", settings))


@router.get("/crew/{token}", response_class=HTMLResponse)
async def crew_page(token: str) -> HTMLResponse:
    """The crew link from the SMS; the page reads the token from its own URL."""
    return HTMLResponse(page("crew", settings))


@router.get("/sos", response_class=HTMLResponse)
async def sos_page() -> HTMLResponse:
    """The patient's SOS app (installable PWA)."""
    return HTMLResponse(page("sos", settings))


@router.get("/patient", response_class=HTMLResponse)
async def patient_page() -> HTMLResponse:
    """The patient's app: profile, doctors, bookings, records (same PWA as /sos)."""
    return HTMLResponse(page("patient", settings))


@router.get("/sos.webmanifest")
async def sos_manifest() -> FileResponse:
    """PWA manifest of the SOS app."""
    return FileResponse(STATIC_DIR / "sos.webmanifest", media_type="application/manifest+json")


@router.get("/sos-sw.js")
async def sos_service_worker() -> FileResponse:
    """Served from the root so its scope can cover /sos."""
    return FileResponse(
        STATIC_DIR / "sos-sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@router.get("/docs", response_class=HTMLResponse)
async def api_docs() -> HTMLResponse:
    """Swagger UI from npm's swagger-ui-dist, served here: the docs work offline (no CDN)."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="Lifeline API",
        swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/favicon.ico",
    )


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The red-cross icon, so browsers stop logging a 404 on every page."""
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon")


def swagger_ui_dir() -> Path:
    """swagger-ui-dist's files (npm, pinned by package-lock.json)."""
    return Path(settings.node_modules) / "swagger-ui-dist"


def mount_static(app: FastAPI) -> None:
    """Our JS/CSS under /static; Leaflet, Swagger UI and axe-core (npm) under /vendor."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(
        "/vendor/swagger-ui",
        StaticFiles(directory=swagger_ui_dir(), check_dir=False),
        name="swagger-ui",
    )
    app.mount(
        "/vendor/axe-core",
        StaticFiles(directory=Path(settings.node_modules) / "axe-core", check_dir=False),
        name="axe-core",
    )
    # Urdu's Nastaliq letters (ہ, ے, ...) are missing from many systems' fonts; OFL, from npm.
    app.mount(
        "/vendor/noto-nastaliq-urdu",
        StaticFiles(directory=Path(settings.node_modules) / "@fontsource" / "noto-nastaliq-urdu",
                    check_dir=False),
        name="noto-nastaliq-urdu",
    )
    app.mount(
        "/vendor/leaflet",
        StaticFiles(directory=leaflet_dir(settings), check_dir=False),
        name="leaflet",
    )
