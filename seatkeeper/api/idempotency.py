"""`Idempotency-Key` on creating API calls: a client that lost the answer retries safely.

The problem: `POST /api/v1/orders/` answered 201, the connection dropped before the client read
it, the client retried and placed a second order. With the header, the first answer is kept for
`KEY_LIFETIME` (24 hours) per user with a fingerprint of the request (method, path, body):

- a retry with the same key and the same request gets the first answer again (header
  `Idempotent-Replayed: true`) and changes nothing;
- the same key with another request is refused with 422, saying so;
- a retry while the first is still running waits for it (the key's row is locked), then gets
  its answer.

How it holds across web processes and machines: the key's row, the call's own writes and the
stored answer are committed in one database transaction. A second request with the key blocks
on the unique (user, key) row until the first commits, then reads its answer; if the first
process dies half-way, everything it did rolls back with its claim, and the retry runs afresh.
Only successful (2xx) answers are kept: a refused call changed nothing, so it may be retried
as it is or corrected. Expired keys are deleted by the periodic job `api.idempotency_purge`.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from django.tasks import task
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from seatkeeper.api.models import IdempotencyKey
from seatkeeper.core import clock
from seatkeeper.core.errors import ServiceError

HEADER = "Idempotency-Key"
KEY_LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255

PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique value per intended call (a UUID, say). Retrying with the same key and the "
        "same body answers the first answer again without doing anything twice; the same key "
        "with another body answers 422. Keys are kept 24 hours per user."
    ),
)


class KeyReused(ServiceError):
    status_code = 422

    def __init__(self) -> None:
        super().__init__(
            _(
                "This Idempotency-Key was already used with another request; use a new key for "
                "a new request."
            ),
            field=HEADER,
            code="idempotency_key_reused",
        )


def _fingerprint(request) -> str:
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = request.body.decode("utf-8", errors="replace")
    text = "\n".join([request.method, request.path, body])
    # An uploaded file counts by its content, not its name (request.data shows only the name).
    files = getattr(request, "FILES", None) or {}
    for name in sorted(files):
        digest = hashlib.sha256()
        for chunk in files[name].chunks():
            digest.update(chunk)
        files[name].seek(0)
        text += f"\n{name}:{digest.hexdigest()}"
    return hashlib.sha256(text.encode()).hexdigest()


def _key_of(request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationError(
            {HEADER: [_("Give 1 to 255 printable characters, a UUID for instance.")]}
        )
    return key


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise KeyReused()
    response = Response(stored.response, status=stored.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(method):
    """For the `post` of a creating API view: honour an `Idempotency-Key` header."""

    @functools.wraps(method)
    def wrapped(view, request, *args, **kwargs):
        key = _key_of(request)
        if key is None:
            return method(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request)
        now = clock.now()
        with transaction.atomic():
            IdempotencyKey.objects.filter(user=request.user, key=key, expires_at__lte=now).delete()
            try:
                with transaction.atomic():
                    claim = IdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=0,
                        expires_at=now + KEY_LIFETIME,
                    )
            except IntegrityError:
                # Another request holds or held the key: its transaction has committed by now.
                stored = IdempotencyKey.objects.get(user=request.user, key=key)
                return _replay(stored, fingerprint)
            response = method(view, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)  # nothing was done: the key stays free
                return response
            claim.status_code = response.status_code
            claim.response = response.data
            claim.save(update_fields=["status_code", "response"])
            return response

    wrapped.idempotent = True
    return wrapped


@task()
def purge_expired_keys() -> int:
    """Delete the keys whose time is up (run by the scheduler)."""
    deleted, _rows = IdempotencyKey.objects.filter(expires_at__lte=clock.now()).delete()
    return deleted
