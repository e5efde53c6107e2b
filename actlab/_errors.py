"""The one error type for mistakes a user can fix.

Library code raises :class:`ActlabError` (a ``ValueError``) with a one-line message that
says what to do; the command line prints it as ``actlab: error: ...`` and exits with 2.
Anything else that escapes is a bug and keeps its traceback.

One exception is caught on purpose: a training that fails because its activation function
cannot run in the model (torch's shape errors: a ``RuntimeError``, or an ``IndexError`` for a
``dim`` the model's tensors lack; a ``ValueError``; an ``ArithmeticError``) is that run's
recorded failure, not the study's (``actlab.execution.BAD_UNIT``). A ``TypeError``, a
``KeyError`` or an ``AttributeError`` there is still a bug.
"""

import re


class ActlabError(ValueError):
    """A user error: bad spec, unknown name, unusable file. The message is one line."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none: how actlab
    quotes an error from elsewhere in a one-line message."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@'\"]*):[^\s/'\"]*@")
_QUERY_PASSWORD = re.compile(r"\b((?:password|passwd|pwd)=)[^&\s'\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the password of every URL in it (``scheme://user:PASSWORD@host``, or a
    ``password=`` query argument) shown as ``***``: how actlab prints any URL."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1:***@", str(text)))
