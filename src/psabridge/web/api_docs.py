"""``/docs`` (Swagger UI) and ``/redoc`` served from packaged assets, under the Content-Security-Policy.

FastAPI's own pages load their scripts from a CDN and start them with an inline script: both are blocked
by the policy (``script-src 'self'``), so they were blank. Here the Swagger UI and Redoc bundles come from
the ``fastapi-offline`` package (served under ``/docs-assets``), and each page starts its viewer from a
static file of ours (``/static/api_docs.js``). The viewers inject their own styles at run time, so these
two pages alone allow inline *styles*; scripts stay ``'self'`` only. Redoc's bundle shows a logo it
loads from its vendor's CDN: the served copy points it at our own icon instead, so nothing leaves.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from psabridge.web.security import CONTENT_SECURITY_POLICY

ASSETS = "/docs-assets"
DOCS_CSP = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    .replace("img-src 'self' data:", "img-src 'self' data: blob:")
    .replace("default-src 'self'", "default-src 'self'; worker-src 'self' blob:")
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="icon" href="/static/favicon.svg">
  {head}
</head>
<body>
  <div id="{mount}" data-openapi-url="{openapi_url}"></div>
  <script src="{bundle}"></script>
  <script src="/static/api_docs.js"></script>
</body>
</html>
"""


def _assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_api_docs(app: FastAPI) -> None:
    """Mount the assets and the two pages (create the app with ``docs_url=None, redoc_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    redoc_bundle = (
        (_assets_dir() / "redoc.standalone.js")
        .read_bytes()
        .replace(b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"/static/favicon.svg")
    )

    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    def redoc_script() -> Response:
        return Response(
            redoc_bundle,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = _PAGE.format(
            title="PSA Bridge API",
            head=f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">',
            mount="swagger-ui",
            openapi_url=openapi_url,
            bundle=f"{ASSETS}/swagger-ui-bundle.js",
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        page = _PAGE.format(
            title="PSA Bridge API",
            head="",
            mount="redoc",
            openapi_url=openapi_url,
            bundle=f"{ASSETS}/redoc.standalone.js",
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_CSP})
