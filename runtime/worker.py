"""``python -m runtime.worker``: the process hosting one cluster actor (see runtime._worker)."""

from __future__ import annotations

import sys

from runtime._worker import main

if __name__ == "__main__":
    sys.exit(main())
