"""Console passwords as werkzeug's scrypt hashes ("scrypt:..."). The admin service loads no web
framework, so create_app hands it this hasher (server/service/accounts.py: Passwords)."""
from __future__ import annotations

from werkzeug.security import check_password_hash, generate_password_hash


class ScryptPasswords:
    def hash(self, password: str) -> str:
        return generate_password_hash(password)

    def matches(self, stored: str, password: str) -> bool:
        return check_password_hash(stored, password)
