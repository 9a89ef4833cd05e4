"""Packages end to end on a real `pydcos cluster up` (2 masters, 1 agent, ZooKeeper):
install the bundled hello-world with options through the CLI, reach it over HTTP, list
it, uninstall it; Cosmos' media types on the wire; a repository added from a
``file://`` path; every bad input of issue 25; and the repository list and the installed
packages after a leader SIGKILL."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.packages import BUNDLED_UNIVERSE
from console._client import ClusterClient, resolve_target
from runtime.testing import wait_for
from tests.console.conftest import LocalCluster, started_cluster

pytestmark = [pytest.mark.slow]

V1 = ";charset=utf-8;version=v1"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    state = tmp_path_factory.mktemp("pkgcluster")
    args = ("--insecure-dev", "--no-docker", "--masters", "2", "--agents", "1")
    with started_cluster(state, *args, check_down=True, check_left=True) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[ClusterClient]:
    with ClusterClient(resolve_target(None, cluster.state_dir, None, True)) as c:
        yield c


def cosmos(
    c: ClusterClient, op: str, body: dict[str, Any], version: str = "v1", accept: str = ""
) -> tuple[int, str, Any]:
    """One Cosmos call with DC/OS' media types, as the dcos CLI sends it."""
    req = urllib.request.Request(
        c.base_url() + f"/package/{op}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": f"application/vnd.dcos.package.{op.replace('/', '.')}-request+json{V1}",
            "Accept": accept
            or f"application/vnd.dcos.package.{op.replace('/', '.')}-response+json"
            f";charset=utf-8;version={version}",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.headers["Content-Type"], json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], json.load(e)


def running_task(c: ClusterClient, app_id: str) -> dict[str, Any] | None:
    tasks = c.get(f"/marathon/v2/apps{app_id}/tasks").get("tasks", [])
    return next((t for t in tasks if t.get("state") == "TASK_RUNNING"), None)


def http_text(host: str, port: int, path: str = "/") -> str:
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


def test_install_hello_world_with_options_reach_it_list_it_uninstall_it(
    cluster: LocalCluster, client: ClusterClient, tmp_path: Path
) -> None:
    r = cluster.cli("package", "search", "web", "--json")
    assert r.returncode == 0, r.stderr
    assert "hello-world" in [p["name"] for p in json.loads(r.stdout)["packages"]]

    options = tmp_path / "hello.json"
    options.write_text(
        json.dumps({"service": {"name": "greeter", "instances": 2}, "hello": {"message": "hi e2e"}})
    )
    r = cluster.cli("package", "install", "hello-world", "--options", str(options), "--yes")
    assert r.returncode == 0, r.stderr
    assert "Installed Marathon app /greeter for package hello-world 0.2.0" in r.stdout
    assert "hello-world is starting" in r.stdout  # postInstallNotes

    task = wait_for(lambda: running_task(client, "/greeter"), timeout=30, what="greeter RUNNING")
    assert wait_for(lambda: http_text(task["host"], task["ports"][0]), what="page") == "hi e2e\n"
    app = client.get("/marathon/v2/apps/greeter")["app"]
    assert app["instances"] == 2
    assert app["labels"]["DCOS_PACKAGE_NAME"] == "hello-world"
    opts = json.loads(base64.b64decode(app["labels"]["DCOS_PACKAGE_OPTIONS"]))
    assert opts["hello"]["message"] == "hi e2e"

    listed = json.loads(cluster.cli("package", "list", "--json").stdout)["packages"]
    assert [(p["appId"], p["packageInformation"]["packageDefinition"]["name"]) for p in listed] == [
        ("/greeter", "hello-world")
    ]
    with urllib.request.urlopen(client.base_url() + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    installs = {
        s.labels.get("package"): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "pydcos_packages_installs_total"
    }
    assert installs == {"hello-world": 1.0}  # the leader's /metrics, read by Prometheus' parser

    r = cluster.cli("package", "uninstall", "hello-world", "--app-id", "greeter")
    assert r.returncode == 0, r.stderr
    assert "hello-world was uninstalled." in r.stdout
    wait_for(
        lambda: "/greeter" not in [a["id"] for a in client.get("/marathon/v2/apps")["apps"]],
        what="app removed",
    )
    assert json.loads(cluster.cli("package", "list", "--json").stdout) == {"packages": []}


def test_cosmos_media_types_and_response_shapes(client: ClusterClient) -> None:
    status, ctype, doc = cosmos(client, "describe", {"packageName": "hello-world"}, "v3")
    assert status == 200
    assert ctype == "application/vnd.dcos.package.describe-response+json;charset=utf-8;version=v3"
    assert doc["package"]["packagingVersion"] == "4.0" and "v2AppMustacheTemplate" in str(doc)
    status, _, doc = cosmos(
        client, "list-versions", {"packageName": "hello-world", "includePackageVersions": True}
    )
    assert doc == {"results": {"0.1.0": "0", "0.2.0": "1"}}
    status, _, doc = cosmos(
        client, "render", {"packageName": "hello-world", "packageVersion": "0.1.0"}
    )
    assert status == 200 and doc["marathonJson"]["id"] == "/hello-world"
    status, ctype, doc = cosmos(client, "search", {"query": "key-value"})
    assert [p["name"] for p in doc["packages"]] == ["redis", "redis-lite"]  # selected first
    status, ctype, doc = cosmos(client, "search", {}, accept="text/html")
    assert status == 406 and doc["type"] == "NotAcceptable"


def test_bad_inputs_get_cosmos_errors_and_install_nothing(client: ClusterClient) -> None:
    status, ctype, doc = cosmos(
        client,
        "install",
        {"packageName": "hello-world", "options": {"service": {"instances": -1, "port": "x"}}},
        "v2",
    )
    assert status == 400 and doc["type"] == "JsonSchemaMismatch"
    assert ctype.startswith("application/vnd.dcos.package.error+json")
    assert [e["instance"]["pointer"] for e in doc["data"]["errors"]] == [
        "/service/instances",
        "/service/port",
    ]
    status, _, doc = cosmos(client, "install", {"packageName": "no-such-thing"}, "v2")
    assert (status, doc["type"]) == (404, "PackageNotFound")
    assert doc["message"] == "Package [no-such-thing] not found"
    status, _, doc = cosmos(
        client, "describe", {"packageName": "echo", "packageVersion": "9.9.9"}, "v3"
    )
    assert (status, doc["type"]) == (404, "VersionNotFound")
    assert [a["id"] for a in client.get("/marathon/v2/apps")["apps"]] == []

    status, _, doc = cosmos(
        client, "repository/add", {"name": "gone", "uri": "http://127.0.0.1:9/repo.json"}
    )
    assert status == 400 and "unreachable" in doc["message"]
    status, _, doc = cosmos(client, "repository/add", {"name": "x", "uri": "file:///etc/hostname"})
    assert status == 400 and "not a Universe repository" in doc["message"]
    names = [r["name"] for r in cosmos(client, "repository/list", {})[2]["repositories"]]
    assert names == ["Universe"]


def test_a_package_bigger_than_the_cluster_installs_and_marathon_says_why_it_waits(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    options = {"service": {"name": "big", "cpus": 64}}
    status, _, doc = cosmos(client, "install", {"packageName": "redis-lite", "options": options})
    assert status == 200 and doc["appId"] == "/big", doc

    def waiting() -> Any:
        r = cluster.cli("marathon", "app", "show", "/big", "--json")
        return json.loads(r.stdout).get("waiting") if r.returncode == 0 else None

    why = json.dumps(wait_for(waiting, what="Marathon's reason /big waits"))
    assert "cpus: need 64" in why
    status, _, doc = cosmos(client, "uninstall", {"packageName": "redis-lite"})
    assert status == 200, doc


def _write_repo(tmp: Path) -> Path:
    """A Universe repository of two packages in a directory of its own: ``tiny`` (a web
    server serving a fetched asset) and ``broken`` (renders an app Marathon refuses)."""
    (tmp / "assets").mkdir()
    (tmp / "assets" / "index.html").write_text("tiny page\n")
    tiny = (
        '{"id": "/{{name}}", "cpus": 0.1, "mem": 32, "instances": 1,'
        ' "cmd": "mkdir -p www && cp index.html www/'
        ' && exec /bin/busybox httpd -f -p $PORT0 -h www",'
        ' "fetch": [{"uri": "{{{resource.assets.uris.page}}}"}],'
        ' "portDefinitions": [{"port": 0}]}'
    )
    broken = '{"id": "/broken", "cmd": "sleep 100", "cpus": 0.1, "mem": 1, "instances": 1}'
    pair = (
        '{"id": "/pair", "apps": ['
        '{"id": "one", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1},'
        '{"id": "two", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, "instances": 1}]}'
    )

    def entry(name: str, template: str, **extra: Any) -> dict[str, Any]:
        return {
            "packagingVersion": "3.0",
            "name": name,
            "version": "1.0",
            "releaseVersion": 0,
            "maintainer": "t@example.com",
            "description": f"{name} test package",
            "tags": ["e2e"],
            "marathon": {"v2AppMustacheTemplate": base64.b64encode(template.encode()).decode()},
            **extra,
        }

    repo = {
        "packages": [
            entry(
                "tiny",
                tiny,
                config={
                    "type": "object",
                    "properties": {"name": {"type": "string", "default": "tiny"}},
                },
                resource={"assets": {"uris": {"page": "assets/index.html"}}},
            ),
            entry("broken", broken),
            entry("pair", pair),
        ]
    }
    path = tmp / "repo.json"
    path.write_text(json.dumps(repo))
    return path


def test_install_from_an_added_file_repository(
    cluster: LocalCluster, client: ClusterClient, tmp_path: Path
) -> None:
    repo = _write_repo(tmp_path)
    r = cluster.cli("package", "repo", "add", "mine", str(repo), "--index", "0")
    assert r.returncode == 0, r.stderr
    listed = json.loads(cluster.cli("package", "repo", "list", "--json").stdout)["repositories"]
    assert [x["name"] for x in listed] == ["mine", "Universe"]
    assert listed[0]["uri"] == repo.as_uri()

    status, _, doc = cosmos(client, "install", {"packageName": "tiny"}, "v2")
    assert status == 200 and doc["appId"] == "/tiny", doc
    task = wait_for(lambda: running_task(client, "/tiny"), timeout=30, what="tiny RUNNING")
    page = wait_for(lambda: http_text(task["host"], task["ports"][0], "/index.html"))
    assert page == "tiny page\n"  # the asset, fetched by the agent from the repository

    # The same service name twice: 409, and the first one is untouched.
    status, _, doc = cosmos(client, "install", {"packageName": "tiny"}, "v2")
    assert (status, doc["type"]) == (409, "PackageAlreadyInstalled")
    # A second instance under another name is fine.
    status, _, doc = cosmos(
        client, "install", {"packageName": "tiny", "options": {"name": "tiny-2"}}, "v2"
    )
    assert status == 200 and doc["appId"] == "/tiny-2"

    # A template that renders an invalid app: 422 naming the package and Marathon's errors.
    status, _, doc = cosmos(client, "install", {"packageName": "broken"}, "v2")
    assert status == 422 and doc["type"] == "MarathonBadResponse"
    assert "package [broken]" in doc["message"] and "/mem" in doc["message"]

    # The asset is served by the cluster too; other files are not.
    asset = repo.parent.joinpath("assets", "index.html").as_uri()
    with urllib.request.urlopen(client.base_url() + f"/package/resource?url={asset}") as resp:
        assert resp.read() == b"tiny page\n"
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(client.base_url() + "/package/resource?url=file:///etc/passwd")
    assert denied.value.code == 404

    # A package rendering a Marathon group: one installation, the group.
    status, _, doc = cosmos(client, "install", {"packageName": "pair"}, "v2")
    assert status == 200 and doc["appId"] == "/pair", doc
    wait_for(lambda: running_task(client, "/pair/two"), timeout=30, what="/pair/two RUNNING")
    listed = [p["appId"] for p in cosmos(client, "list", {"packageName": "pair"})[2]["packages"]]
    assert listed == ["/pair"]
    status, _, doc = cosmos(client, "uninstall", {"packageName": "pair"})
    assert status == 200 and doc["results"][0]["appId"] == "/pair"
    wait_for(
        lambda: (
            not any(a["id"].startswith("/pair/") for a in client.get("/marathon/v2/apps")["apps"])
        ),
        what="the group's apps removed",
    )

    status, _, doc = cosmos(client, "uninstall", {"packageName": "tiny"})
    assert (status, doc["type"]) == (400, "AmbiguousAppId")
    status, _, doc = cosmos(client, "uninstall", {"packageName": "tiny", "all": True})
    assert sorted(x["appId"] for x in doc["results"]) == ["/tiny", "/tiny-2"]


def test_a_cron_package_installs_a_metronome_job(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    r = cluster.cli("package", "install", "cron-echo", "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["appId"] == "cron-echo"
    job = client.get("/service/metronome/v1/jobs/cron-echo", embed="schedules")
    assert job["schedules"][0]["cron"] == "*/5 * * * *"
    assert job["labels"]["DCOS_PACKAGE_NAME"] == "cron-echo"
    names = [p["appId"] for p in cosmos(client, "list", {})[2]["packages"]]
    assert "cron-echo" in names
    status, _, doc = cosmos(client, "uninstall", {"packageName": "cron-echo"})
    assert status == 200 and doc["results"][0]["appId"] == "cron-echo"
    jobs = client.get("/service/metronome/v1/jobs")
    assert "cron-echo" not in [j["id"] for j in jobs]


def test_the_dashboard_catalog_installs_from_the_live_cluster(client: ClusterClient) -> None:
    from textual.app import App
    from textual.widgets import DataTable, Static

    from console._dash_catalog import CatalogScreen, cosmos_for

    class Host(App[None]):
        source = client

    async def main() -> None:
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            cosmos = cosmos_for(type("Source", (), {"client": client})())
            assert cosmos is not None
            await app.push_screen(CatalogScreen(cosmos))
            screen = app.screen
            table = screen.query_one("#catalog-table", DataTable)
            for _ in range(300):
                if table.row_count:
                    break
                await pilot.pause(0.02)
            await pilot.click("#catalog-search")
            await pilot.press(*"httpbin", "enter")
            for _ in range(300):
                if table.row_count == 1:
                    break
                await pilot.pause(0.02)
            assert table.row_count == 1
            await pilot.press("i", "y")
            status = screen.query_one("#catalog-status", Static)
            for _ in range(500):
                if "installed /echo" in str(status.render()):
                    break
                await pilot.pause(0.02)
            assert "installed /echo" in str(status.render()), str(status.render())

    asyncio.run(main())
    task = wait_for(lambda: running_task(client, "/echo"), timeout=30, what="echo RUNNING")
    doc = wait_for(lambda: json.loads(http_text(task["host"], task["ports"][0], "/get?x=1")))
    assert doc["args"] == {"x": "1"}  # the httpbin-like server, fetched by the agent
    status, _, answer = cosmos(client, "uninstall", {"packageName": "echo"})
    assert status == 200, answer


def _framework_repo(tmp: Path) -> Path:
    """A repository with a framework package: its app runs a pymesos scheduler."""
    (tmp / "assets").mkdir()
    (tmp / "assets" / "frame.py").write_text((Path(__file__).parent / "frame.py").read_text())
    template = (
        '{"id": "/{{name}}", "cpus": 0.1, "mem": 64, "instances": 1, "user": "{{user}}",'
        ' "cmd": "exec {{{python}}} frame.py {{{master}}} {{framework}}",'
        ' "fetch": [{"uri": "{{{resource.assets.uris.scheduler}}}"}],'
        ' "labels": {"DCOS_PACKAGE_FRAMEWORK_NAME": "{{framework}}"}}'
    )
    repo = {
        "packages": [
            {
                "packagingVersion": "3.0",
                "name": "frame",
                "version": "1.0",
                "releaseVersion": 0,
                "maintainer": "t@example.com",
                "description": "a framework package",
                "framework": True,
                "marathon": {"v2AppMustacheTemplate": base64.b64encode(template.encode()).decode()},
                "resource": {"assets": {"uris": {"scheduler": "assets/frame.py"}}},
                "config": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "default": "frame"},
                        "framework": {"type": "string", "default": "pkg-frame"},
                        "python": {"type": "string"},
                        "user": {"type": "string", "default": "nobody"},
                        "master": {"type": "string"},
                    },
                    "required": ["python", "master"],
                },
            }
        ]
    }
    (tmp / "repo.json").write_text(json.dumps(repo))
    return tmp / "repo.json"


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def frameworks(c: ClusterClient) -> dict[str, str]:
    return {f["name"]: f["id"] for f in c.get("/mesos/master/frameworks")["frameworks"]}


def test_uninstalling_a_framework_package_tears_its_framework_down_but_never_marathon(
    cluster: LocalCluster, client: ClusterClient, tmp_path: Path
) -> None:
    repo = _framework_repo(tmp_path)
    status, _, doc = cosmos(client, "repository/add", {"name": "frames", "uri": repo.as_uri()})
    assert status == 200, doc
    # The scheduler needs this venv's python (pymesos): run it as this test's user.
    options = {"python": sys.executable, "master": f"zk://{cluster.zk}/mesos", "user": _whoami()}
    status, _, doc = cosmos(client, "install", {"packageName": "frame", "options": options})
    assert status == 200, doc
    wait_for(lambda: "pkg-frame" in frameworks(client), timeout=30, what="pkg-frame registered")

    # A package claiming to run Marathon's framework: its uninstall leaves Marathon alone.
    impostor = {**options, "name": "impostor", "framework": "marathon"}
    status, _, doc = cosmos(client, "install", {"packageName": "frame", "options": impostor})
    assert status == 200, doc
    status, _, doc = cosmos(client, "uninstall", {"packageName": "frame", "appId": "impostor"})
    assert status == 200, doc
    assert "marathon" in frameworks(client)

    status, _, doc = cosmos(client, "uninstall", {"packageName": "frame"})
    assert status == 200 and doc["results"][0]["appId"] == "/frame", doc
    wait_for(lambda: "pkg-frame" not in frameworks(client), 60, "pkg-frame torn down")
    assert "marathon" in frameworks(client)
    status, _, doc = cosmos(client, "repository/delete", {"name": "frames"})
    assert status == 200, doc


@pytest.mark.skipif(
    not os.environ.get("PYDCOS_DCOS_PYTHON"),
    reason="the dcos 0.6.1 library needs its own Python <= 3.9 venv: set PYDCOS_DCOS_PYTHON",
)
def test_the_dcos_cli_library_drives_it_unmodified(client: ClusterClient) -> None:
    script = Path(__file__).parent / "dcos_library_client.py"
    run = subprocess.run(
        [os.environ["PYDCOS_DCOS_PYTHON"], str(script), client.base_url()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["enabled"] and seen["capability"]
    assert seen["search"] == ["hello-world"]
    assert (seen["version"], seen["versions"]) == ("0.2.0", ["0.2.0", "0.1.0"])
    assert seen["config"] == ["hello", "service"] and seen["rendered_id"] == "/vialib"
    assert ["/vialib", "hello-world", "0.2.0"] in seen["installed"]
    assert "already installed" in seen["again"]
    assert "Path: hello" in seen["bad"]  # the library's rendering of our JsonSchemaMismatch
    assert seen["unknown"] == "Package [no-such-package] not found"
    assert seen["after"] == []


def _leader_pid(cluster: LocalCluster) -> int:
    for p in cluster.record()["processes"]:
        if p["kind"] != "master":
            continue
        with urllib.request.urlopen(p["http_url"] + "/metrics/snapshot", timeout=5) as r:
            if json.load(r).get("master/elected") == 1:
                return int(p["pid"])
    raise AssertionError("no master says it is elected")


def test_repositories_and_installed_packages_survive_a_leader_sigkill(
    cluster: LocalCluster, client: ClusterClient
) -> None:
    status, _, doc = cosmos(
        client, "repository/add", {"name": "again", "uri": BUNDLED_UNIVERSE.as_uri() + "?copy"}
    )
    assert status == 200, doc
    before = doc["repositories"]
    status, _, doc = cosmos(
        client, "install", {"packageName": "hello-world", "options": {"service": {"name": "hw"}}}
    )
    assert status == 200, doc
    os.kill(_leader_pid(cluster), signal.SIGKILL)
    r = cluster.cli("package", "repo", "list", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["repositories"] == before  # from ZooKeeper, in order
    listed = wait_for(
        lambda: json.loads(cluster.cli("package", "list", "--json").stdout)["packages"],
        timeout=30,
        what="package list from the new leader",
    )
    assert [p["appId"] for p in listed] == ["/hw"]
    r = cluster.cli("package", "uninstall", "hello-world", "--json")
    assert r.returncode == 0, r.stderr
