"""The exceptions the engine raises for problems a user can act on.

Every error that reaches a user derives from :class:`FaceCraftError`, so the CLI
and the GUI can show its message instead of a traceback. A message about one of
the user's files names it (see :func:`naming_file`), so that a failure in a batch
of hundreds of photos says which one.
"""

from __future__ import annotations

from pathlib import Path


def naming_file(path: str | Path, message: str) -> str:
    """``message`` prefixed with ``"<path>: "``, unless it already names ``path``.

    For errors raised where the file is not known (e.g. face detection on pixels),
    reported by the caller that read the file.
    """
    name = str(path)
    return message if name in message else f"{name}: {message}"


class FaceCraftError(Exception):
    """Base class of every user-facing engine error; ``str(error)`` is the message to show."""


class ImageLoadError(FaceCraftError):
    """A file could not be read as an image (missing, not an image, corrupt, too large)."""


class NoFaceFound(FaceCraftError):
    """Face detection found no face in the image."""


class ResourceError(FaceCraftError):
    """A shipped resource (template, landmark map, weights) is missing, corrupt or mismatched."""


class ExportError(FaceCraftError):
    """A result could not be written (folder not writable, unsupported format, disk error, bad data)."""
