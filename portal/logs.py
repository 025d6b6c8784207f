"""Structured logs: one JSON line per event, for the web server and the worker alike.

- Every request gets an id (sent back as `X-Request-Id`) and one line when it ends: method, route
  (the path template, never the path with its ids or the query string), status, duration, and the
  signed-in user and company. Lines logged while a request runs (an unhandled error, with its
  traceback in the `exception` field) carry the same request id, user and company.
- Secrets never reach a log: nothing here logs headers, cookies or bodies, and a last processor
  drops any field whose name says it is a secret, whoever added it.
- structlog builds the events and hands them to the standard library's logging, so Litestar's,
  uvicorn's and the services' own `logging` calls come out as the same JSON lines.
"""

from __future__ import annotations

import logging
import logging.config
import sys
import time
import uuid
from typing import Any, cast

import structlog
from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.logging.config import BaseLoggingConfig
from litestar.types import ASGIApp, GetLogger, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

REQUEST_ID_HEADER = "X-Request-Id"
SECRET_WORDS = ("password", "passwd", "token", "secret", "cookie", "csrf", "authorization", "api_key")
SECRET_NAMES = frozenset({"session", "session_id", "sessionid", "session_key"})  # not `sessions`, a count

log = structlog.stdlib.get_logger("portal.requests")


def drop_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """A field named like a secret is removed, not masked: its length would say something too.
    (uvicorn's `color_message` repeats the message with terminal colours: dropped as noise.)"""
    for key in [key for key in event if key == "color_message" or _is_secret(key)]:
        del event[key]
    return event


def _is_secret(key: str) -> bool:
    name = key.lower()
    return name in SECRET_NAMES or any(word in name for word in SECRET_WORDS)


_SHARED: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def json_formatter() -> logging.Formatter:
    """The formatter of every handler: structlog events and plain `logging` records alike become one
    JSON object per line, with a traceback (if any) as the `exception` field."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            drop_secrets,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=str),
        ],
    )


def _configure_structlog() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_configure_structlog()


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dictionary: every logger, uvicorn's included, writes JSON lines to
    standard output. `portal serve` hands it to uvicorn, which applies it in each worker process."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "portal.logs.json_formatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "litestar")
        },
    }


def configure(level: str = "INFO") -> None:
    """Logging for a process that is not run by uvicorn (the worker): JSON lines on standard output."""
    logging.config.dictConfig(logging_config(level))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]


class LitestarLogging(BaseLoggingConfig):
    """Litestar logs through the standard loggers and leaves their configuration alone (its default
    would install its own handlers and format on every app it builds). Unhandled errors are logged
    once, by the app's 500 handler."""

    log_exceptions = "never"
    exception_logging_handler = None
    traceback_line_limit = -1
    disable_stack_trace: set[int | type[Exception]] = set()

    def configure(self) -> GetLogger:
        return cast(GetLogger, logging.getLogger)

    @staticmethod
    def set_level(logger: Any, level: int) -> None:
        logger.setLevel(level)


def _route(scope: Scope) -> dict[str, Any]:
    template = scope.get("path_template")
    if template:
        return {"route": template}
    return {"route": None, "path": str(scope.get("path", ""))[:200]}  # no route: nothing to hide an id in


class RequestLog:
    """The outermost layer of the app: it sees every request, those no route matched included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        failure: Exception | None = None
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            failure = error
            raise
        finally:
            fields = {
                "method": scope.get("method"),
                **_route(scope),
                "status": status if status is not None else 500,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if failure is not None:
                log.error("request", exc_info=failure, **fields)
            else:
                log.info("request", **fields)
            structlog.contextvars.clear_contextvars()


def with_request_log(app: Litestar) -> Litestar:
    """Puts `RequestLog` around everything the app does, its own exception handling included."""
    app.asgi_handler = RequestLog(app.asgi_handler)
    return app


class BindUser:
    """Route middleware after the authentication middleware: every line logged for the rest of the
    request names the signed-in user and their company."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        if user is not None:
            structlog.contextvars.bind_contextvars(
                user_id=getattr(user, "id", None), company_id=getattr(user, "company_id", None)
            )
        await self.app(scope, receive, send)
