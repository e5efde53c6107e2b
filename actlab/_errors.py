"""The one error type for mistakes a user can fix.

Library code raises :class:`ActlabError` (a ``ValueError``) with a one-line message that
says what to do; the command line prints it as ``actlab: error: ...`` and exits with 2.
Anything else that escapes is a bug and keeps its traceback.
"""


class ActlabError(ValueError):
    """A user error: bad spec, unknown name, unusable file. The message is one line."""
