"""The few ways a use case refuses. web/errors.py maps each to HTTP once."""


class ChatError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(ChatError):
    code = "invalid"


class NotFound(ChatError):
    code = "not_found"


class NotAllowed(ChatError):
    code = "forbidden"


class Conflict(ChatError):
    code = "conflict"


class RateLimited(ChatError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unauthenticated(ChatError):
    code = "unauthenticated"
