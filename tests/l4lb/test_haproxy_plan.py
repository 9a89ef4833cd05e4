"""HAProxy's side, pure: which slot each backend takes, which runtime-API commands a
change needs, when a reload is needed, and the configuration text (issue 20: "backend
changes through the runtime API with no reload; adding or removing a VIP reloads")."""

from __future__ import annotations

from actors.l4lb import HaproxyModel, plan, ready_servers, render_config
from actors.l4lb._haproxy import MIN_SLOTS, Paths, proxy_name
from actors.l4lb._table import Backend, Vip

PATHS = Paths("/d/haproxy.cfg", "/d/runtime.sock", "/d/master.sock", "/d/haproxy.pid")
B1, B2, B3 = (Backend("127.0.0.1", 31000 + i, f"t{i}") for i in range(1, 4))


def vip(*backends: Backend, balance: str = "roundrobin", address: str = "127.128.0.9") -> Vip:
    return Vip(
        "/web", "web.marathon.l4lb.thisdcos.directory", address, 80, balance, frozenset(backends)
    )


def table(*vips: Vip) -> dict[str, Vip]:
    return {v.ident: v for v in vips}


NAME = "v_127_128_0_9_80"


def test_a_new_vip_is_a_reload_with_its_backends_in_the_file() -> None:
    step = plan(HaproxyModel(), table(vip(B1, B2)))
    assert step.reload and step.commands == []
    assert proxy_name(vip()) == NAME
    assert step.model.slots[NAME][:2] == [B1, B2]
    assert len(step.model.slots[NAME]) == MIN_SLOTS
    text = render_config(step.model, PATHS)
    assert f"frontend {NAME}\n    bind 127.128.0.9:80\n    default_backend {NAME}" in text
    assert f"backend {NAME}\n    balance roundrobin\n    server s1 127.0.0.1:31001\n" in text
    assert "    server s2 127.0.0.1:31002\n    server s3 127.0.0.1:1 disabled\n" in text
    assert text.count(f"    server s{MIN_SLOTS} ") == 1
    assert "stats socket /d/runtime.sock mode 600 level admin expose-fd listeners" in text
    assert "option redispatch" in text and "mode tcp" in text and "hard-stop-after" in text


def test_a_new_backend_takes_the_lowest_free_slot_without_reload() -> None:
    first = plan(HaproxyModel(), table(vip(B1, B2)))
    step = plan(first.model, table(vip(B1, B2, B3)))
    assert not step.reload
    assert step.commands == [
        f"set server {NAME}/s3 state maint",
        f"set server {NAME}/s3 addr 127.0.0.1 port 31003",
        f"set server {NAME}/s3 state ready",
    ]


def test_a_gone_backend_is_drained_first_and_its_slot_reused() -> None:
    first = plan(HaproxyModel(), table(vip(B1, B2)))
    step = plan(first.model, table(vip(B2, B3)))
    assert not step.reload
    assert step.commands == [
        f"set server {NAME}/s1 state drain",
        f"set server {NAME}/s1 state maint",
        f"set server {NAME}/s1 addr 127.0.0.1 port 31003",
        f"set server {NAME}/s1 state ready",
    ]
    assert step.model.slots[NAME][:2] == [B3, B2]
    # kept backends never move, so nothing is said about them
    again = plan(step.model, table(vip(B2, B3)))
    assert again == type(again)(again.model, False, [])


def test_outgrowing_the_slots_balance_changes_and_removed_vips_reload() -> None:
    many = [Backend("127.0.0.1", 32000 + i, f"m{i}") for i in range(MIN_SLOTS + 1)]
    first = plan(HaproxyModel(), table(vip(B1)))
    grown = plan(first.model, table(vip(*many)))
    assert grown.reload and len(grown.model.slots[NAME]) == 2 * MIN_SLOTS
    assert plan(first.model, table(vip(B1, balance="leastconn"))).reload
    gone = plan(first.model, {})
    assert gone.reload and gone.model.frontends == {}
    assert f"frontend {NAME}" not in render_config(gone.model, PATHS)


def test_two_vips_render_two_frontends() -> None:
    step = plan(
        HaproxyModel(), table(vip(B1), vip(B2, address="127.128.0.10", balance="leastconn"))
    )
    text = render_config(step.model, PATHS)
    assert "bind 127.128.0.9:80" in text and "bind 127.128.0.10:80" in text
    assert "    balance leastconn\n" in text


def test_ready_servers_reads_show_servers_state() -> None:
    text = (
        "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n"
        f"3 {NAME} 1 s1 127.0.0.1 2 4 1 1 0 1 0 0 8 0 0 0 - 31001 - 0 0 - - 0\n"
        f"3 {NAME} 2 s2 127.0.0.1 2 8 1 1 0 1 0 0 8 0 0 0 - 31002 - 0 0 - - 0\n"
        f"3 {NAME} 3 s3 127.0.0.1 0 5 1 1 1 1 0 0 8 0 0 0 - 1 - 0 0 - - 0\n"
        f"3 {NAME} 4 s4 127.0.0.1 2 0 1 1 1 1 0 0 8 0 0 0 - 31004 - 0 0 - - 0\n"
    )
    assert ready_servers(text) == {NAME: {("127.0.0.1", 31001), ("127.0.0.1", 31004)}}
