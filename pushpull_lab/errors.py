"""Exceptions raised by the lab. All derive from :class:`LabError`."""


class LabError(Exception):
    """Base class of every error the lab raises on purpose."""


class DeadlockError(LabError):
    """Virtual time found nothing left to run while ``main`` was still waiting.

    Every task is blocked on something that can no longer happen (for example
    ``await queue.get()`` with no producer left), so the clock has nowhere to jump.
    """


class VirtualTimeError(LabError):
    """Something that needs the real world (a socket, a thread) was tried in virtual time."""


class BackgroundTaskError(LabError):
    """A background task or listener raised and nobody handled the exception.

    ``__cause__`` is the first such exception; ``errors`` lists all of them.
    """

    def __init__(self, message: str, errors: list[BaseException]):
        super().__init__(message)
        self.errors = errors


class BufferFullError(LabError):
    """A subscriber's buffer was full and its overflow policy is ``"error"``."""
