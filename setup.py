"""Build of the one optional C helper; everything else is in setup.cfg.

``transport._spin`` (transport/_spin.c) lets the transport's I/O thread and its callers
hand work to each other without holding the GIL, and gives the I/O thread direct calls
into the libzmq that pyzmq loaded. It is optional: without a C compiler the install
still succeeds and the transport falls back to ``select.epoll``, ``os`` and pyzmq.
"""

import sys

from setuptools import Extension, setup

ext_modules = []
if sys.platform.startswith("linux"):
    ext_modules.append(
        Extension(
            "transport._spin",
            ["transport/_spin.c"],
            optional=True,
            extra_compile_args=["-O2"],
            libraries=["dl"],  # dlopen: part of libc since glibc 2.34, a library before
        )
    )

setup(ext_modules=ext_modules)
