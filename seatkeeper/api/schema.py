"""The OpenAPI document tells the truth about the API (checked in CI by schemathesis, see
.ci/fuzz): paginated lists are envelopes with `limit`/`offset`, every operation lists the
errors it can answer in the one error shape of seatkeeper.api.errors, and creating calls
document the `Idempotency-Key` header."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from seatkeeper.api import idempotency


class ErrorOutput(serializers.Serializer):
    """Every 4xx answer (seatkeeper.api.errors)."""

    code = serializers.CharField(help_text="invalid, not_found, permission_denied, conflict…")
    message = serializers.CharField(help_text="What went wrong, for a person to read")
    fields = serializers.DictField(
        required=False,
        child=serializers.JSONField(),
        help_text="Per field (or header, or query parameter): what is wrong with it",
    )


ERRORS = {
    "400": "Bad input: the message and `fields` name what to correct.",
    "401": "No valid credentials: a session or `Authorization: Token …`.",
    "403": "Signed in, but not allowed to do this.",
    "404": "Nothing here, or nothing you may see (another organisation's object).",
    "409": "Changed meanwhile by someone else, or the state does not allow it now.",
    "422": "The Idempotency-Key was already used with another request.",
}


class SeatkeeperAutoSchema(AutoSchema):
    def _view_method(self):
        return getattr(self.view, self.method.lower(), None)

    def _is_idempotent(self) -> bool:
        return bool(getattr(self._view_method(), "idempotent", False))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters.append(idempotency.PARAMETER)
        return parameters

    def _error_codes(self) -> list[str]:
        codes = ["401", "403"]
        takes_input = (
            self.method in ("POST", "PUT", "PATCH")
            or "{" in self.path
            or any(p.get("in") == "query" for p in self._get_parameters())
        )
        if takes_input:
            codes += ["400", "404"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes.append("409")
        if self._is_idempotent():
            codes.append("422")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorOutput, code, direction=direction)
                response["description"] = ERRORS[code]
                responses[code] = response
        return dict(sorted(responses.items()))
