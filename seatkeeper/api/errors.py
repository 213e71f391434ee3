"""One error shape for the API: {"code", "message", "fields"?}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from seatkeeper.core.errors import ServiceError
from seatkeeper.core.validation import InvalidQuery


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        body = {"code": exc.code, "message": exc.message}
        if getattr(exc, "fields", None):  # several fields refused at once, each with why
            body["fields"] = exc.fields
        elif exc.field:
            body["fields"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status_code)
    if isinstance(exc, InvalidQuery):
        return Response(
            {"code": "invalid", "message": str(exc), "fields": exc.errors},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ValidationError):
        fields = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(
            {"code": "invalid", "message": "Invalid input.", "fields": fields},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = (
            response.data
            if isinstance(response.data, dict)
            else {"non_field_errors": response.data}
        )
        response.data = {"code": "invalid", "message": "Invalid input.", "fields": detail}
    elif isinstance(exc, exceptions.APIException):
        response.data = {
            "code": exc.get_codes() if isinstance(exc.get_codes(), str) else "error",
            "message": str(exc.detail),
        }
    return response
