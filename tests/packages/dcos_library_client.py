"""Run by test_packages_e2e.py under another interpreter: the DC/OS CLI's own Cosmos
client library (``dcos`` 0.6.1 from PyPI, unmodified; it needs Python <= 3.9 and
jsonschema 2.x, so it cannot share the project's venv) against a pydcos cluster.

    python3.9 -m venv /tmp/dcos-lib && /tmp/dcos-lib/bin/pip install dcos==0.6.1
    PYDCOS_DCOS_PYTHON=/tmp/dcos-lib/bin/python pytest tests/packages/test_packages_e2e.py

Prints one JSON document of what the library saw; the test asserts on it.
"""

import json
import os
import sys
import tempfile

url = sys.argv[1].rstrip("/") + "/"
cfg = os.path.join(tempfile.mkdtemp(), "dcos.toml")
with open(cfg, "w") as f:
    f.write('[core]\ndcos_url = "{}"\nssl_verify = "false"\n'.format(url.rstrip("/")))
os.chmod(cfg, 0o600)
os.environ["DCOS_CONFIG"] = cfg

from dcos import errors, packagemanager  # noqa: E402

pm = packagemanager.PackageManager(url)
out = {"enabled": pm.enabled(), "capability": pm.has_capability("PACKAGE_MANAGEMENT")}
out["search"] = [p["name"] for p in pm.search_sources("web")["packages"]]
pkg = pm.get_package_version("hello-world", None)
out["version"] = pkg.version()
out["versions"] = pkg.package_versions()
out["config"] = sorted(pkg.config_json()["properties"])
out["rendered_id"] = pkg.marathon_json({"service": {"name": "vialib"}})["id"]
pm.install_app(pkg, {"service": {"name": "vialib"}, "hello": {"message": "from the library"}})
out["installed"] = [[a["appId"], a["name"], a["version"]] for a in pm.installed_apps(None, None)]
for key, options in (("again", {"service": {"name": "vialib"}}), ("bad", {"hello": {"x": 1}})):
    try:
        pm.install_app(pkg, options)
        out[key] = None
    except errors.DCOSException as e:
        out[key] = str(e)
try:
    pm.get_package_version("no-such-package", None)
    out["unknown"] = None
except errors.DCOSException as e:
    out["unknown"] = str(e)
out["repos"] = pm.get_repos()["repositories"]
pm.uninstall_app("hello-world", False, "vialib")
out["after"] = pm.installed_apps("hello-world", None)
print(json.dumps(out))
