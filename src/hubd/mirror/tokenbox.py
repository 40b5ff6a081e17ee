"""Users' upstream tokens at rest: encrypted with Fernet keys from the configuration (`upstream_token_keys`).

A linked token is a credential on another hub, so the database never holds it in the clear: a dump or a
replica's backup reveals nothing without the keys, which live in the configuration only. MultiFernet makes
rotation a routine: the first key encrypts, every listed key decrypts, and `hubd mirror rotate-tokens`
re-encrypts every stored token under the first key, after which the old key can be dropped."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hubd.hub.errors import BadRequest, HubError


class TokenKeysMissing(BadRequest):
    default_message = "This hub has no upstream_token_keys configured: upstream tokens cannot be linked"


class TokenUnreadable(HubError):
    """A stored token no configured key opens (its key was dropped before a rotation)."""

    status = 500
    code = "UpstreamTokenUnreadable"
    default_message = "The linked upstream token cannot be decrypted with the configured keys"


FERNET_PREFIX = "gAAAAA"  # every Fernet token starts so (version byte 0x80 then a 64-bit timestamp)


class TokenBox:
    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k) for k in parts]) if parts else None
        except ValueError:
            raise ValueError("upstream_token_keys: each key must be a url-safe base64 Fernet key "
                             "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')"
                             ) from None

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def seal(self, token: str) -> str:
        if self._fernet is None:
            raise TokenKeysMissing()
        return self._fernet.encrypt(token.encode()).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(FERNET_PREFIX):
            return stored  # linked before encryption; `encrypt_legacy` seals it at the next start
        if self._fernet is None:
            raise TokenUnreadable("This hub has no upstream_token_keys configured: linked tokens cannot be read")
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise TokenUnreadable() from None

    def rotate(self, stored: str) -> str:
        """The token re-encrypted under the first key; a legacy plaintext value (stored before encryption)
        is encrypted."""
        if self._fernet is None:
            raise TokenKeysMissing()
        if not stored.startswith(FERNET_PREFIX):
            return self.seal(stored)
        try:
            return self._fernet.rotate(stored.encode()).decode()
        except InvalidToken:
            raise TokenUnreadable() from None
