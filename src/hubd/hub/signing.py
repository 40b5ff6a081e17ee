"""Self-authenticating URLs (LFS transfers carry no Hub token): HMAC over the URL's meaning and expiry."""

from __future__ import annotations

import hmac
import secrets
import time
from hashlib import sha256

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hubd.db.engine import Database
from hubd.db.schema import hub_meta
from hubd.hub.errors import Forbidden

SIGNED_URL_TTL = 24 * 3600


def load_signing_key(db: Database) -> bytes:
    """The hub-wide key lives in the database, so every replica signs and checks alike."""
    with db.read() as conn:
        value = conn.execute(select(hub_meta.c.value).where(hub_meta.c.key == "signing_key")).scalar()
    if value is None:
        try:
            with db.write() as conn:
                conn.execute(insert(hub_meta).values(key="signing_key", value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another process created it first
        return load_signing_key(db)
    return bytes.fromhex(value)


class Signer:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, exp: int, parts: tuple[object, ...]) -> str:
        msg = "\x1f".join([str(exp), *map(str, parts)]).encode()
        return hmac.new(self.key, msg, sha256).hexdigest()

    def sign(self, *parts: object, ttl: int = SIGNED_URL_TTL) -> dict[str, str]:
        exp = int(time.time()) + ttl
        return {"exp": str(exp), "sig": self._mac(exp, parts)}

    def verify(self, exp: str | None, sig: str | None, *parts: object) -> None:
        try:
            exp_i = int(exp or "")
        except ValueError:
            raise Forbidden("Invalid signed URL") from None
        if exp_i < time.time() or not hmac.compare_digest(self._mac(exp_i, parts), sig or ""):
            raise Forbidden("Invalid or expired signed URL")
