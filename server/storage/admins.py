"""Console accounts (scrypt hashes, see server/service/accounts.py) and their server-side sessions.
A session row holds the sha256 of the cookie's token, never the token itself."""
from __future__ import annotations

import time
from typing import Optional

import sqlalchemy as sa

from server.storage import audit
from server.storage.database import Conflict, Database, NotFound, utc_now
from server.storage.schema import admin_sessions, admins


class AdminAccounts:
    def __init__(self, database: Database):
        self.database = database

    def add(self, name: str, password_hash: str, actor: str) -> None:
        try:
            with self.database.writing() as conn:
                conn.execute(sa.insert(admins).values(name=name, password_hash=password_hash, created=utc_now()))
                audit.write(conn, actor, "admins.add", {"admin": name})
        except sa.exc.IntegrityError:
            raise Conflict(f"an admin named {name!r} already exists") from None

    def set_password(self, name: str, password_hash: str, actor: str) -> None:
        """Change a password and end that admin's sessions."""
        with self.database.writing() as conn:
            changed = conn.execute(sa.update(admins).where(admins.c.name == name).values(password_hash=password_hash))
            if changed.rowcount == 0:
                raise NotFound(f"no admin named {name!r}")
            conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.admin == name))
            audit.write(conn, actor, "admins.password", {"admin": name})

    def remove(self, name: str, actor: str) -> None:
        with self.database.writing() as conn:
            if conn.execute(sa.delete(admins).where(admins.c.name == name)).rowcount == 0:
                raise NotFound(f"no admin named {name!r}")
            conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.admin == name))
            audit.write(conn, actor, "admins.remove", {"admin": name})

    def password_hash(self, name: str) -> Optional[str]:
        with self.database.reading() as conn:
            return conn.execute(sa.select(admins.c.password_hash).where(admins.c.name == name)).scalar_one_or_none()

    def all(self) -> list[dict]:
        with self.database.reading() as conn:
            return [row._asdict() for row in conn.execute(sa.select(admins.c.name, admins.c.created)
                                                          .order_by(admins.c.name))]

    def start_session(self, token_hash: str, name: str, lifetime_seconds: float) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.expires < time.time()))
            conn.execute(sa.insert(admin_sessions).values(token_hash=token_hash, admin=name,
                                                          expires=time.time() + lifetime_seconds))
            audit.write(conn, name, "login", {})

    def session_admin(self, token_hash: str) -> Optional[str]:
        """The admin a live session belongs to, or None (unknown, expired, logged out)."""
        with self.database.reading() as conn:
            return conn.execute(sa.select(admin_sessions.c.admin).where(
                admin_sessions.c.token_hash == token_hash, admin_sessions.c.expires > time.time())).scalar_one_or_none()

    def end_session(self, token_hash: str, name: str) -> None:
        with self.database.writing() as conn:
            conn.execute(sa.delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash))
            audit.write(conn, name, "logout", {})
