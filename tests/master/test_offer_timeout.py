"""Offer timeout (Mesos ``--offer_timeout``; DC/OS runs its masters with 2mins): an offer a
framework neither uses nor declines is rescinded (RESCIND), its resources go back to the
allocator, and another framework can have them. Manual clock, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from actors import protocol as p
from actors.gateway import master_flags
from actors.master._master_core import MasterConfig
from console.cli import CliError, build_parser, master_config
from tests.master.test_master_core import AGENT2, FW, Cluster, one, sends

OTHER = "tcp://127.0.0.1:7200/sched"


def rescinds(out: list[Any], to: str = FW) -> list[str]:
    return [r.offer_id for r in sends(out, to, p.Rescind)]


def test_an_offer_held_past_the_timeout_is_rescinded_and_offered_again() -> None:
    c = Cluster(offer_timeout=2.0)
    aid = c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    assert rescinds(c.tick(advance=1.0)) == []  # 1.1 s old: kept
    out = c.tick(advance=1.0)  # 2.1 s old
    assert rescinds(out) == [offer.offer_id]
    assert offer.offer_id not in c.core.offers
    # The resources came back without a filter (Mesos recovers them with none): the same
    # tick's cycle offers them again, under a new id.
    again = one([o for b in sends(out, FW, p.Offers) for o in b.offers])
    assert again.agent_id == aid and again.offer_id != offer.offer_id
    assert c.core.agents[aid].offers == {again.offer_id}


def test_only_the_old_offers_are_rescinded() -> None:
    c = Cluster(offer_timeout=2.0)
    c.add_agent()
    c.subscribe()
    first = one(c.offers())  # at t0 + 0.1
    c.now += 1.5
    second_agent = c.add_agent(AGENT2)
    second = one(c.offers())  # at t0 + 1.7
    assert second.agent_id == second_agent
    assert rescinds(c.tick(advance=0.5)) == [first.offer_id]  # first 2.1 s, second 0.5 s
    assert second.offer_id in c.core.offers
    assert rescinds(c.tick(advance=1.6)) == [second.offer_id]


def test_no_timeout_keeps_offers_for_ever() -> None:
    c = Cluster(offer_timeout=None)
    c.add_agent()
    c.subscribe()
    offer = one(c.offers())
    assert rescinds(c.tick(advance=3600.0)) == []
    assert offer.offer_id in c.core.offers


def test_a_silent_framework_cannot_keep_another_from_the_resources() -> None:
    """The silent framework holds both agents; once they are rescinded, DRF splits them:
    the silent one's share rises with the first agent, the other gets the second."""
    c = Cluster(offer_timeout=2.0)
    c.add_agent()
    c.add_agent(AGENT2)
    c.subscribe()  # the silent one: never answers
    held = c.offers()
    assert len(held) == 2
    info = p.FrameworkInfo("other", ["*"], 60.0)
    other = one(sends(c.handle(p.Subscribe(info, OTHER)), OTHER, p.Subscribed)).framework_id
    got: list[p.Offer] = []
    for _ in range(30):  # 3 s of ticks
        got += [o for b in sends(c.tick(advance=0.1), OTHER, p.Offers) for o in b.offers]
        if got:
            break
    assert all(o.offer_id not in c.core.offers for o in held)
    assert got and got[0].framework_id == other
    assert got[0].agent_id in c.agent_ids.values()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], 120.0), (["--offer-timeout", "2"], 2.0), (["--offer-timeout", "0"], None)],
)
def test_the_master_flag(argv: list[str], expected: float | None) -> None:
    args = build_parser().parse_args(["master", "--zk", "127.0.0.1:2181", *argv])
    assert master_config(args).offer_timeout == expected


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_bad_offer_timeout_is_refused_naming_it(value: str) -> None:
    args = build_parser().parse_args(["master", "--zk", "127.0.0.1:2181", "--offer-timeout", value])
    with pytest.raises(CliError, match=f"--offer-timeout: .*{value}"):
        master_config(args)


def test_a_non_number_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["master", "--zk", "z", "--offer-timeout", "soon"])
    assert exc.value.code != 0
    assert "--offer-timeout: invalid float value: 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize(("timeout", "shown"), [(120.0, "120secs"), (2.5, "2.5secs"), (None, None)])
def test_flags_show_it_as_mesos_names_it(timeout: float | None, shown: str | None) -> None:
    flags = master_flags(
        MasterConfig(offer_timeout=timeout),
        hostname="h",
        http_host="127.0.0.1",
        http_port=5050,
        cluster="c",
        log_dir=None,
    )
    assert flags.get("offer_timeout") == shown
