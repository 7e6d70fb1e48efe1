"""The ``facecraft`` console command.

``facecraft`` with no argument (or with a photo or session file) opens the
desktop application when it is installed; ``facecraft SUBCOMMAND ...`` runs the headless engine
(:mod:`facecraft.core.cli`). This module sits above both so that
``facecraft.core`` never has to import the GUI.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence

from facecraft.core import cli


def gui_available() -> bool:
    """True when the desktop application package can be imported."""
    return importlib.util.find_spec("facecraft.app.main") is not None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``facecraft`` command; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ log chatter
    opens_gui = not args or (not args[0].startswith("-") and args[0] not in cli.SUBCOMMANDS)
    if opens_gui:
        if gui_available():
            from facecraft.app.main import run_app  # GUI only when asked for

            return run_app(args)
        cli.build_parser().print_help()
        print(
            "\nThe desktop application is not part of this build yet; "
            "use a subcommand above (e.g. `facecraft detect PHOTO`).",
            file=sys.stderr,
        )
        return 0
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main())
