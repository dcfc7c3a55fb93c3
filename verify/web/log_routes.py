"""The transparency log's endpoints (docs/registry.md, "Endpoints"):

    GET /api/v1/log/checkpoint                  the latest checkpoint, text/plain
    GET /api/v1/log/proof/<number>              inclusion proof of the certificate's latest event (JSON)
    GET /api/v1/log/consistency?from=N&to=M     consistency proof between two tree sizes (JSON)
    GET /api/v1/log/entry/<index>               leaf INDEX of the latest checkpoint, with its proof (JSON)

Everything served here is checked by the client against the log key of the trust list, so
the service is not trusted for it. Proofs read O(log^2 n) stored hashes (certgen.registry.tlog).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from certgen.registry import tlog

from ..log_source import LogUnavailable, consistency_document, entry_document, proof_document

_STATUS = {"malformed": 400, "not_in_registry": 404, "not_checkpointed": 404, "no_checkpoint": 404, "truncated": 404}


def log_router(service: Any) -> APIRouter:
    """The routes, over the service's registry (404 when none is configured)."""
    router = APIRouter(prefix="/api/v1/log", tags=["log"])

    def registry() -> Any:
        if service.registry is None:
            raise HTTPException(404, "no registry is configured")
        return service.registry

    def refused(exc: LogUnavailable) -> JSONResponse:
        return JSONResponse({"error": str(exc), "reason": exc.reason}, status_code=_STATUS.get(exc.reason, 503))

    @router.get("/checkpoint", summary="The latest signed checkpoint of the registry's log (C2SP signed note)")
    def checkpoint(request: Request) -> Response:
        head = tlog.latest_tree_head(registry())
        if head is None:
            return refused(LogUnavailable("no_checkpoint", "the log has no signed checkpoint yet"))
        etag = f'"{head.root_hash[:16]}-{head.size}-{head.id}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(head.note, media_type="text/plain; charset=utf-8", headers=headers)

    @router.get("/proof/{number}", summary="Inclusion proof of a certificate's latest event in the latest checkpoint")
    def proof(number: str) -> JSONResponse:
        try:
            return JSONResponse(proof_document(registry(), number[:60]))
        except LogUnavailable as exc:
            return refused(exc)

    @router.get("/entry/{index}", summary="Leaf INDEX of the latest checkpoint: the event and its inclusion proof")
    def entry(index: int) -> JSONResponse:
        try:
            return JSONResponse(entry_document(registry(), index))
        except LogUnavailable as exc:
            return refused(exc)

    @router.get("/consistency", summary="Consistency proof between two tree sizes (RFC 9162)")
    def consistency(first: int = Query(..., alias="from", ge=0), second: int = Query(..., alias="to", ge=0)) -> JSONResponse:
        try:
            return JSONResponse(consistency_document(registry(), first, second))
        except LogUnavailable as exc:
            return refused(exc)

    return router
