"""A bad spec is refused at install (issue 28): Cosmos validates an SDK scheduler app's
svc.yml, rendered with the app's env, before creating anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.packages import PackagesError
from actors.packages._api import _check_sdk_spec
from actors.sdk import check_scheduler_app

HELLO = Path(__file__).resolve().parents[2] / "examples" / "sdk" / "hello" / "svc.yml"
ENV = {"SERVICE_NAME": "hello", "HELLO_COUNT": "2", "HELLO_GREETING": "hi"}


def app(spec: Path | str, env: dict[str, str]) -> dict[str, object]:
    return {
        "id": "/hello",
        "cmd": f"exec /py -m actors.sdk.scheduler --spec {spec} --zk zk://x/pydcos --keys keys",
        "env": env,
    }


def test_a_valid_spec_passes_and_other_apps_are_not_looked_at() -> None:
    assert check_scheduler_app(app(HELLO, ENV)) is None
    assert check_scheduler_app(app("examples/sdk/hello/svc.yml", ENV)) is None  # project-relative
    assert check_scheduler_app({"id": "/web", "cmd": "python -m http.server"}) is None
    assert check_scheduler_app(app("/nonexistent/svc.yml", ENV)) is None  # the scheduler's call


def test_options_that_break_the_spec_are_refused_with_the_yaml_path() -> None:
    found = check_scheduler_app(app(HELLO, {**ENV, "HELLO_COUNT": "many"}))
    assert found is not None
    assert found[1].path == "pods.hello.count"


def test_a_spec_with_a_cycle_is_refused_by_cosmos(tmp_path: Path) -> None:
    spec = tmp_path / "svc.yml"
    spec.write_text(
        """
name: cyc
pods:
  p: {count: 1, tasks: {t: {goal: RUNNING, cpus: 0.1, memory: 8, cmd: x}}}
plans:
  deploy:
    phases:
      a: {pod: p, dependencies: [b]}
      b: {pod: p, dependencies: [a]}
"""
    )
    with pytest.raises(PackagesError) as err:
        _check_sdk_spec("cyc", app(spec, {}))
    assert err.value.status == 400 and err.value.type == "ServiceSpecInvalid"
    assert err.value.data["path"] == "plans.deploy.phases.a.dependencies"
    assert "cycle: a -> b -> a" in err.value.message
