"""Console accounts and their sessions.

A session is a random token: the console keeps it in its signed cookie, the database only its
sha256, so logging out or changing a password ends the session in every worker. How passwords
are hashed is handed in (`Passwords`, werkzeug's scrypt in server/passwords.py), as this package
loads no web framework.
"""
from __future__ import annotations

import functools
import hashlib
import re
import secrets
from typing import Optional, Protocol

from server.service.errors import Conflict, Invalid
from server.storage import Storage

ADMIN_NAME = re.compile(r"[\w.@-]{1,80}")
MIN_PASSWORD_CHARS = 10


class Passwords(Protocol):
    def hash(self, password: str) -> str: ...

    def matches(self, stored: str, password: str) -> bool: ...


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountActions:
    storage: Storage
    passwords: Passwords

    def admins(self) -> list[dict]:
        """Every account's name and when it was created, by name."""
        return self.storage.admins.all()

    def check_new_admin(self, name: str) -> None:
        """Invalid or Conflict unless `name` can be a new account (so the CLI can say so before
        asking for a password)."""
        if not ADMIN_NAME.fullmatch(name):
            raise Invalid("a name is 1-80 letters, digits or . @ _ -")
        if self.storage.admins.password_hash(name) is not None:
            raise Conflict(f"an admin named {name!r} already exists")

    def add_admin(self, name: str, password: str, actor: str) -> None:
        self.check_new_admin(name)
        self.storage.admins.add(name, self._hash(password), actor)

    def set_admin_password(self, name: str, password: str, actor: str) -> None:
        """A new password for `name`; that admin's sessions end."""
        self.storage.admins.set_password(name, self._hash(password), actor)

    def remove_admin(self, name: str, actor: str) -> None:
        """Delete the account and end its sessions."""
        self.storage.admins.remove(name, actor)

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_CHARS:
            raise Invalid(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
        return self.passwords.hash(password)

    @functools.cached_property
    def _unknown_admin_hash(self) -> str:
        # Checked when the name is unknown, so a wrong name takes as long as a wrong password.
        return self.passwords.hash(secrets.token_hex(16))

    def log_in(self, name: str, password: str, client: Optional[str], lifetime_seconds: float) -> Optional[str]:
        """A new session's token if the name and password match an account, else None (and the
        failed attempt is audited with the client's address)."""
        stored = self.storage.admins.password_hash(name)
        valid = self.passwords.matches(stored or self._unknown_admin_hash, password)
        if not (stored and valid):
            self.storage.audit.record(name[:80] or "(no name)", "login.failed", {"remote": client})
            return None
        token = secrets.token_urlsafe(32)
        self.storage.admins.start_session(_token_hash(token), name, lifetime_seconds)
        return token

    def session_admin(self, token: str) -> Optional[str]:
        """The admin a live session belongs to, or None (unknown, expired, logged out)."""
        return self.storage.admins.session_admin(_token_hash(token))

    def log_out(self, token: str, name: str) -> None:
        self.storage.admins.end_session(_token_hash(token), name)
