"""The HTTP API (FastAPI), versioned under /api/v1, and the server that also carries the web pages.

| module | holds |
|---|---|
| ``app`` | ``create_app``: the application factory |
| ``auth`` | the engine dependencies and the token check (401, then 404, then 403) |
| ``errors`` | the one error shape, HTML error pages for pages, the body limit |
| ``schemas`` | request and response models |
| ``routers/`` | one module per resource: contracts, batches, evaluations, payments, status |
"""

from api.http.app import create_app

__all__ = ["create_app"]
