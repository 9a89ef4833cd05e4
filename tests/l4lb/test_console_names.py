"""The console shows an app's DNS and VIP names (issue 20): the dashboard's ``n`` key
(headless, fed by the fake source) and the pure helpers behind ``marathon app show``."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import RichLog

from console import _model as m
from console._dashboard import DashboardApp
from console._fake import FakeSource
from console._net_cmds import networking_lines


def test_an_apps_json_gives_its_vip_names() -> None:
    app = m._app_from_json(
        {
            "id": "/shop/web",
            "instances": 3,
            "portDefinitions": [
                {"port": 10000, "labels": {"VIP_0": "/shop:80", "VIP_1": "127.0.0.9:81"}},
                {"port": 10001, "labels": {"VIP_0": "not a vip"}},
            ],
        }
    )
    assert app.vips == ("shop.marathon.l4lb.thisdcos.directory:80", "127.0.0.9:81")
    assert m.app_names(app) == [
        "web-shop.marathon.mesos",
        "shop.marathon.l4lb.thisdcos.directory:80",
        "127.0.0.9:81",
    ]


def test_app_show_lines_name_dns_and_each_vip_with_its_address() -> None:
    names = {
        "dns": ["web-shop.marathon.mesos", "_web-shop._tcp.marathon.mesos"],
        "vips": [
            {
                "vip": "shop.marathon.l4lb.thisdcos.directory:80",
                "address": "127.200.1.2:80",
                "backends": 3,
            },
            {"vip": "db.marathon.l4lb.thisdcos.directory:5432", "address": None, "backends": None},
        ],
    }
    assert networking_lines(names) == [
        "dns:  web-shop.marathon.mesos, _web-shop._tcp.marathon.mesos",
        "vip:  shop.marathon.l4lb.thisdcos.directory:80 -> 127.200.1.2:80 (3 backends)",
        "vip:  db.marathon.l4lb.thisdcos.directory:5432",
    ]


def test_pressing_n_logs_the_selected_services_names() -> None:
    async def main() -> None:
        app = DashboardApp(FakeSource(apps=1, tasks=1), clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.flush()
            [app_id] = list(app.model.apps)
            app.model.apps[app_id].vips = ("svc.marathon.l4lb.thisdcos.directory:80",)
            app.query_one("#apps").focus()
            await pilot.press("n")
            await pilot.pause()
            log: Any = app.query_one("#events", RichLog)
            text = "\n".join(line.text for line in log.lines)
            assert "svc.marathon.l4lb.thisdcos.directory:80" in text
            assert ".marathon.mesos" in text

    asyncio.run(main())
