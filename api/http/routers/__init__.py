"""The API's routes, one module per resource, all under /api/v1.

Routers are thin: each route checks the caller (``api.http.auth.access``), calls one function of
contracts/, outcomes/, evaluation/ or payments/, and answers with a model of ``api.http.schemas``.
"""

from fastapi import Query

CONTRACT = "/contracts/{contract_id}"
LIMIT = Query(50, ge=1, le=500)
OFFSET = Query(0, ge=0, le=10**9)
