"""Admin Router's service routing rule, pure: which Marathon task serves /service/<name>."""

from __future__ import annotations

from actors.sdk._proxy import upstream_of


def app(app_id: str, labels: dict[str, str], tasks: list[dict[str, object]]) -> dict[str, object]:
    return {"id": app_id, "labels": labels, "tasks": tasks}


def test_the_labelled_app_s_running_task_at_its_port_index() -> None:
    apps = [
        app("/other", {}, [{"host": "10.0.0.9", "ports": [1], "state": "TASK_RUNNING"}]),
        app(
            "/sched/hello",
            {"DCOS_SERVICE_NAME": "hello", "DCOS_SERVICE_PORT_INDEX": "1"},
            [
                {"host": "10.0.0.1", "ports": [80, 81], "state": "TASK_STAGING"},
                {"host": "10.0.0.2", "ports": [90, 91], "state": "TASK_RUNNING"},
            ],
        ),
    ]
    assert upstream_of(apps, "hello") == ("http", "10.0.0.2:91")


def test_by_app_id_when_no_label_and_nothing_when_no_task() -> None:
    apps = [app("/echo", {"DCOS_SERVICE_SCHEME": "https"}, [{"host": "h", "ports": [5]}])]
    assert upstream_of(apps, "echo") == ("https", "h:5")
    assert upstream_of([app("/echo", {}, [])], "echo") is None
    assert upstream_of(apps, "nope") is None
