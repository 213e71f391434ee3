"""Partner Center sandbox: a separate ASGI process that speaks Microsoft Partner Center's
REST protocol and the Entra ID token endpoints, backed by its own SQLite store.
It never imports Django."""
