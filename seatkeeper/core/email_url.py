"""EMAIL_URL → Django's MAILERS setting (the "default" mailer).

Accepted forms:
  file:///absolute/folder      one file per message in that folder (the embedded default)
  smtp://user:pass@host:25     plain SMTP (STARTTLS when `?tls=1`)
  smtp+tls://host:587          SMTP with STARTTLS
  smtps://host:465             SMTP over TLS
  console://                   print messages on standard output
  locmem://                    keep messages in memory (tests)
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SCHEMES = {"file", "smtp", "smtp+tls", "smtps", "console", "locmem"}


def mailer_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ImproperlyConfigured(
            f"EMAIL_URL: scheme {parts.scheme!r} is not one of {sorted(SCHEMES)}"
        )
    if parts.scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured("EMAIL_URL: file:// needs a folder path")
        return {
            "BACKEND": "seatkeeper.core.mail.PrivateFileEmailBackend",
            "OPTIONS": {"file_path": unquote(parts.path)},
        }
    if parts.scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if not parts.hostname:
        raise ImproperlyConfigured(f"EMAIL_URL: {url!r} has no host")
    query = parse_qs(parts.query)
    use_ssl = parts.scheme == "smtps"
    use_tls = parts.scheme == "smtp+tls" or query.get("tls", ["0"])[0] in {"1", "true"}
    try:
        port = parts.port or (465 if use_ssl else 587 if use_tls else 25)
    except ValueError:
        raise ImproperlyConfigured(f"EMAIL_URL: {url!r} has a malformed port") from None
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname,
            "port": port,
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": use_tls,
            "use_ssl": use_ssl,
            "timeout": 20,
        },
    }
