"""Microsoft Partner Center: the first provider implementation (see adapter.MicrosoftProvider)."""
