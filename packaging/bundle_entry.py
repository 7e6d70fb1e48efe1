"""Entry point of the PyInstaller bundle (packaging/build_bundle.sh): the ``facecraft`` command.

``FaceCraft`` opens the desktop application; ``FaceCraft decompose|edit|detect|--version`` run
the engine, exactly as the ``facecraft`` command of a pip install does.
"""

import multiprocessing
import sys

from facecraft.launcher import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
