"""Which HTTP status each designer error gets: the service's one table, and the exception that
carries an error to it.

Code raises the designer error that says what is wrong (wrapped in :class:`Rejected` when the
answer needs headers); the status follows from :data:`HTTP_STATUS`, never from the raising site,
so two places cannot answer the same problem differently. The OpenAPI description lists the same
table (:func:`documented_statuses`).
"""

from __future__ import annotations

from visionblocks import errors


class UnauthorizedError(errors.ModuleError):
    """UserError 2000 for a missing or wrong key (its own class so that it maps to 401)."""


class ServiceBusyError(errors.FailedToCompleteOperationError):
    """0039 when the queue cannot take the request's images now (503 with Retry-After)."""


class RequestTimeoutError(errors.FailedToCompleteOperationError):
    """0039 when the request took longer than its timeout (504)."""


# The client's mistakes are 4xx; the service's own failures are 5xx. A designer error not listed
# here (a bug, or a failure of the model) is a 500 that still carries its code.
HTTP_STATUS: dict[type[errors.ModuleError], int] = {
    errors.FileParsingFailedError: 400,
    errors.ColumnNotFoundError: 400,
    errors.NullOrEmptyError: 400,
    errors.ParameterParsingError: 400,
    UnauthorizedError: 401,
    errors.LessThanOrEqualToError: 413,
    errors.ImageExceedsLimitError: 413,
    ServiceBusyError: 503,
    RequestTimeoutError: 504,
}
SERVER_ERROR = 500


def status_of(error: errors.ModuleError) -> int:
    """The status of ``error``: the table's entry for its class or the nearest listed base class."""
    for cls in type(error).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return SERVER_ERROR


def documented_statuses() -> dict[int, list[type[errors.ModuleError]]]:
    """Status -> the designer errors answered with it, in table order (for the OpenAPI text)."""
    by_status: dict[int, list[type[errors.ModuleError]]] = {}
    for cls, status in HTTP_STATUS.items():
        by_status.setdefault(status, []).append(cls)
    return by_status


class Rejected(Exception):
    """A request the service refuses with the designer error ``error``, its status from
    :data:`HTTP_STATUS` and extra response ``headers`` (WWW-Authenticate, Retry-After)."""

    def __init__(self, error: errors.ModuleError, headers: dict[str, str] | None = None):
        super().__init__(error.message)
        self.error = error
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return status_of(self.error)
