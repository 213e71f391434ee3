from __future__ import annotations

from django.utils import translation


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
