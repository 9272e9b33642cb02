"""Uniform API errors: `{"error": code, "detail": text}` with the status in design §7."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

_log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _response(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc.status, exc.code, exc.detail)

    @api.exception_handler(RequestValidationError)
    async def _malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": ["request"], "msg": "invalid"}
        where = ".".join(str(part) for part in first.get("loc", []) if part != "body")
        return _response(422, "malformed", f"{where}: {first.get('msg', 'invalid')}")

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        """The last line: a bug answers a plain JSON 500 with no traceback, no SQL and no
        PHI in it; the traceback goes to the (redacted, ccm_pwa/log_redaction.py) log.
        Every shape of bad input has its own 4xx before this (tests/api/test_fuzz_requests.py
        sends them)."""
        _log.error("unexpected error on %s %s", request.method, request.url.path,
                   exc_info=exc)
        return _response(500, "internal", "the server could not answer this request")
