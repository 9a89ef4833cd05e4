"""Unmodified public clients against a real ``pydcos cluster up`` cluster.

```
 local_cluster (module, from tests/console) ── pydcos cluster up --masters 3 --agents 2
   └─ marathon==0.13.0 (MarathonClient, every master's URL)   /marathon/v2/...
   └─ sseclient-py (generic SSE)                              /marathon/v2/events
```
The clients are pinned in setup.cfg's ``dev`` extra; README.md lists their versions.
"""

from __future__ import annotations

import collections
import collections.abc

from tests.console.conftest import local_cluster  # noqa: F401  (the module-scoped cluster)

# marathon 0.13.0 (the newest release) still names collections.Iterable, which Python 3.10
# moved to collections.abc: give it the old alias rather than patching the library.
if not hasattr(collections, "Iterable"):
    collections.Iterable = collections.abc.Iterable  # type: ignore[attr-defined]
