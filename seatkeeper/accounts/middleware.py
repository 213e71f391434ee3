from __future__ import annotations

from django.utils import translation
from django.utils.cache import add_never_cache_headers


class UserLanguageMiddleware:
    """Signed-in people see the UI in their chosen language (or their organisation's default).

    Runs after authentication; anonymous visitors keep what LocaleMiddleware chose from the
    language cookie or the browser.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            language = user.preferred_language
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if user is not None and user.is_authenticated:
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class PrivatePagesMiddleware:
    """Nothing shown to a signed-in person (or answered to an API token) is kept by a browser
    or a proxy: `Cache-Control: no-store`, so neither the back button on a shared computer
    after signing out nor a caching proxy shows the pages to somebody else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or "HTTP_AUTHORIZATION" in request.META:
            add_never_cache_headers(response)
        return response
