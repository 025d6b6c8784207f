"""Writes happen once: a write sent with an `Idempotency-Key` header saves its answer in its own
transaction, so the same key with the same request (method, path, query and body) gets that answer
back without anything being done again, and the same key with another request gets 409. Two
calls with one key at the same moment: the second waits for the first's row, then replays it.

Only successful answers are kept: a refused request wrote nothing, and sending it again checks
it again. The worker drops kept answers after a week (`api_keys.REPLAY_KEPT`)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import gettext
from portal.models import ApiKey, IdempotentResponse
from portal.web.api.problems import ApiProblem, ProblemItem

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]*$",
        required=False,
        description="Any unique string of 1–200 visible ASCII characters (empty: none); a repeat with the same request "
        "answers the stored response, with another request 409.",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"
JSON = "application/json"


async def request_digest(request: Request[Any, Any, Any]) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query or ""):
        digest.update(part.encode() + b"\n")
    digest.update(await request.body())
    return digest.hexdigest()


async def _stored(session: AsyncSession, key: ApiKey, idempotency_key: str, digest: str) -> Response[Any] | None:
    stored = await session.get(IdempotentResponse, (key.id, idempotency_key), populate_existing=True)
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise ApiProblem(
            409,
            gettext("This Idempotency-Key was used for another request."),
            [ProblemItem("Idempotency-Key", gettext("Use a new key for a new request."))],
        )
    return Response(
        stored.body.encode(), status_code=stored.status_code, media_type=JSON, headers={REPLAYED_HEADER: "true"}
    )


async def once(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    key: ApiKey,
    idempotency_key: str | None,
    work: Callable[[], Awaitable[msgspec.Struct]],
    status_code: int = 200,
) -> Response[Any]:
    """`work`'s answer as JSON, saved under the idempotency key (if any) in the same transaction."""
    digest = await request_digest(request) if idempotency_key else ""
    if idempotency_key and (replay := await _stored(session, key, idempotency_key, digest)) is not None:
        return replay
    content = msgspec.json.encode(await work())
    if idempotency_key:
        session.add(
            IdempotentResponse(
                api_key_id=key.id,
                key=idempotency_key,
                request_hash=digest,
                status_code=status_code,
                body=content.decode(),
                created_at=clock.now(),
            )
        )
        try:
            await session.flush()
        except IntegrityError:
            await session.rollback()  # the same key won a moment earlier: its answer stands, ours is undone
            if (replay := await _stored(session, key, idempotency_key, digest)) is not None:
                return replay
            raise
    return Response(content, status_code=status_code, media_type=JSON)
