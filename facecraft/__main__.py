"""``python -m facecraft`` runs the ``facecraft`` command."""

import sys

from facecraft.launcher import main

sys.exit(main())
