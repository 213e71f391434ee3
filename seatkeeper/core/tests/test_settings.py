from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from seatkeeper.core.email_url import mailer_from_url
from seatkeeper.core.env import env_bool, env_int, env_list, env_url


def _start(tmp_path, **environment) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEATKEEPER_VAR_DIR": str(tmp_path), **environment}
    if "DATABASE_URL" not in environment:
        env.pop("DATABASE_URL", None)
    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'seatkeeper.settings'; "
        "django.setup()"
    )
    command = [sys.executable, "-c", code]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)  # noqa: S603


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DATABASE_URL", "postgress://db/x", "DATABASE_URL: scheme 'postgress'"),
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL: scheme 'http'"),
        ("EMAIL_URL", "smtp://", "EMAIL_URL"),
        ("SEATKEEPER_DEBUG", "maybe", "SEATKEEPER_DEBUG='maybe' is not a boolean"),
        ("SEATKEEPER_ENCRYPTION_KEY", "short", "SEATKEEPER_ENCRYPTION_KEY must be"),
        ("SEATKEEPER_SECRET_KEY", "tiny", "SEATKEEPER_SECRET_KEY must be at least"),
        ("SEATKEEPER_ALLOWED_HOSTS", "a,,b", "empty item"),
        ("SEATKEEPER_PORT", "eighty", "SEATKEEPER_PORT='eighty' is not an integer"),
    ],
)
def test_a_malformed_setting_stops_the_start_loudly(tmp_path, variable, value, message):
    result = _start(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_defaults_start_on_sqlite_with_generated_secrets(tmp_path):
    result = _start(tmp_path)
    assert result.returncode == 0, result.stderr
    secret = (tmp_path / "secret_key").read_text()
    assert len(secret) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert (tmp_path / "encryption_key").exists()
    # generated once: a second start keeps the same secret
    assert _start(tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == secret


def test_runtime_files_are_readable_by_their_owner_only(tmp_path):
    # given a key file an older version left readable by everybody, and the usual umask
    (tmp_path / "encryption_key").write_text(Fernet.generate_key().decode())
    (tmp_path / "encryption_key").chmod(0o644)
    code = (
        "import os; os.umask(0o022); os.environ['DJANGO_SETTINGS_MODULE'] = 'seatkeeper.settings';"
        "import django; django.setup(); from django.db import connection;"
        "connection.cursor().execute('CREATE TABLE probe (x INTEGER)');"
        "connection.cursor().execute('INSERT INTO probe VALUES (1)');"
        "var = os.environ['SEATKEEPER_VAR_DIR'];"
        "print(*(oct(os.stat(os.path.join(var, name)).st_mode)[-3:] for name in "
        "('seatkeeper.sqlite3', 'seatkeeper.sqlite3-wal', 'seatkeeper.sqlite3-shm')))"
    )
    env = {**os.environ, "SEATKEEPER_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    # when Seatkeeper starts and writes to its database
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    # then the database, its WAL files and the keys are 0600
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", "600", "600"]
    for name in ("secret_key", "encryption_key"):
        assert oct((tmp_path / name).stat().st_mode)[-3:] == "600"


def test_env_readers():
    assert env_bool("X", False, environ={"X": "yes"}) is True
    assert env_bool("X", True, environ={}) is True
    assert env_int("X", 3, environ={"X": "42"}) == 42
    with pytest.raises(ImproperlyConfigured):
        env_int("X", 3, minimum=1, environ={"X": "0"})
    assert env_list("X", [], environ={"X": "a, b"}) == ["a", "b"]
    with pytest.raises(ImproperlyConfigured):
        env_url("X", None, schemes={"redis"}, environ={"X": "redis://host:notaport"})


def test_secrets_can_come_from_files(tmp_path):
    secret_file = tmp_path / "flag"
    secret_file.write_text("true\n")
    assert env_bool("FLAG", False, environ={"FLAG_FILE": str(secret_file)}) is True


def test_email_urls():
    assert mailer_from_url("file:///var/mail")["OPTIONS"] == {"file_path": "/var/mail"}
    smtp = mailer_from_url("smtp+tls://user%40x:p%3Ass@mail.example:2525")
    assert smtp["OPTIONS"]["host"] == "mail.example"
    assert smtp["OPTIONS"]["port"] == 2525
    assert smtp["OPTIONS"]["username"] == "user@x"
    assert smtp["OPTIONS"]["password"] == "p:ss"
    assert smtp["OPTIONS"]["use_tls"] is True
    assert mailer_from_url("smtps://mail.example")["OPTIONS"]["port"] == 465
    with pytest.raises(ImproperlyConfigured):
        mailer_from_url("gopher://x")
