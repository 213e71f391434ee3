"""Mail written to files (the embedded default) readable only by their owner.

Messages hold password-reset and invitation links, so the folder is 0700 and each file 0600,
whatever the umask, like the other private runtime files (`core/files.py`).
"""

from __future__ import annotations

import os

from django.core.mail.backends.filebased import EmailBackend

from seatkeeper.core.files import PRIVATE

PRIVATE_FOLDER = 0o700


class PrivateFileEmailBackend(EmailBackend):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        os.chmod(self.file_path, PRIVATE_FOLDER)

    def open(self) -> bool:
        if self.stream is None:
            descriptor = os.open(
                self._get_filename(), os.O_CREAT | os.O_WRONLY | os.O_APPEND, PRIVATE
            )
            self.stream = os.fdopen(descriptor, "ab")
            return True
        return False
