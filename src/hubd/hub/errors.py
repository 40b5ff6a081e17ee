"""One error hierarchy; the API layer renders it in the Hub's shape."""

from __future__ import annotations


class HubError(Exception):
    status = 500
    code: str | None = None
    default_message = "Internal error"

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = headers or {}
        super().__init__(self.message)


class BadRequest(HubError):
    status = 400
    code = "BadRequest"
    default_message = "Bad request"


class Unauthorized(HubError):
    status = 401
    code = "Unauthorized"
    default_message = "Invalid credentials in Authorization header"


class Forbidden(HubError):
    status = 403
    code = "Forbidden"
    default_message = "You don't have the rights to perform this operation"


class RepoNotFound(HubError):
    status = 404
    code = "RepoNotFound"
    default_message = "Repository not found"


class RevisionNotFound(HubError):
    status = 404
    code = "RevisionNotFound"
    default_message = "Revision not found"


class EntryNotFound(HubError):
    status = 404
    code = "EntryNotFound"
    default_message = "Entry not found"


class NotFound(HubError):
    status = 404
    code = "NotFound"
    default_message = "Not found"


class GatedRepo(HubError):
    status = 403
    code = "GatedRepo"
    default_message = "Access to this repository is restricted. You must have access to it to download files."


class MethodNotAllowed(HubError):
    status = 405
    code = "MethodNotAllowed"
    default_message = "Method not allowed"


class Conflict(HubError):
    status = 409
    code = "Conflict"
    default_message = "Conflict"


class PreconditionFailed(HubError):
    status = 412
    code = "PreconditionFailed"
    default_message = "The branch head has moved since the parent commit"


class PayloadTooLarge(HubError):
    status = 413
    code = "PayloadTooLarge"
    default_message = "Request body too large"


class RangeNotSatisfiable(HubError):
    status = 416
    code = "RangeNotSatisfiable"
    default_message = "Requested range not satisfiable"


class ServiceUnavailable(HubError):
    status = 503
    code = "ServiceUnavailable"
    default_message = "A backing service is unavailable, try again later"


class InsufficientStorage(HubError):
    """The storage has no space left (full disk or quota). Nothing was published: writes stage first."""

    status = 507
    code = "InsufficientStorage"
    default_message = "The storage has no space left, nothing was changed"


class StorageCorrupt(HubError):
    """A stored object is missing or does not parse: hubd's fault (its storage), never the client's."""

    status = 500
    code = "StorageCorrupt"
    default_message = "A stored object is corrupt"
