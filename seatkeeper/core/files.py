"""Runtime files only their owner may read: the database, generated keys, vendor credentials.

`var/` sits in a developer's home or on a shared server; its SQLite database holds password
hashes and encrypted vendor secrets, and the key files what decrypts them, so none of them may
be readable by other accounts on the machine, whatever the umask.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 when absent; make it 0600 when it is there already."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE)
    except FileExistsError:
        path.chmod(PRIVATE)
    else:
        os.close(descriptor)
    return path


def private_sqlite(path: Path) -> None:
    """The database file 0600 before SQLite opens it (SQLite then gives its -wal and -shm files
    the database's mode), and any -wal or -shm left by an older version made private too."""
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.chmod(PRIVATE)
