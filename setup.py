"""Build of the one optional C helper; everything else is in setup.cfg.

``transport._spin`` (transport/_spin.c) lets the transport's I/O thread and its callers
hand work to each other without holding the GIL. It is optional: without a C compiler
the install still succeeds and the transport falls back to ``select.epoll`` and ``os``.
"""

import sys

from setuptools import Extension, setup

ext_modules = []
if sys.platform.startswith("linux"):
    ext_modules.append(
        Extension(
            "transport._spin", ["transport/_spin.c"], optional=True, extra_compile_args=["-O2"]
        )
    )

setup(ext_modules=ext_modules)
