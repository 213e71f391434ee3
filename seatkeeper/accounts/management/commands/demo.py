"""`seatkeeper demo`: load demo data (idempotent); write the logins to var/demo-logins.txt."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from seatkeeper.accounts import demo as accounts_demo
from seatkeeper.core.files import private_file
from seatkeeper.pricing import demo as pricing_demo
from seatkeeper.subscriptions import demo as subscriptions_demo


class Command(BaseCommand):
    help = "Create the demo partner, resellers, customers and one login per role (idempotent)."

    def handle(self, *args, **options) -> None:
        logins = accounts_demo.load()
        pricing_demo.load()
        subscriptions_demo.load_rights()
        subscriptions_demo.load_rainbow()
        lines = [f"{login.role} {login.username} {login.password}" for login in logins]
        path = private_file(settings.VAR_DIR / "demo-logins.txt")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.stdout.write(f"Demo logins (role username password), also in {path}:")
        for line in lines:
            self.stdout.write("  " + line)
