"""A batch of offers larger than the old 1,024-offer memo is parsed once per offer, and
only as far as launches need offers.

A new leader's first ``Offers`` carries every re-registered agent (10,000 at 10k
agents): the resident matcher and ``match_offers`` both read each offer, and the memo
emptied mid-batch made the second reader parse all of them again. The memo is emptied
after each batch instead (nothing of it is kept between batches). Then: once every
launch is placed the rest of the batch is declined unread, and the resident matcher
reads no offer that cannot carry a reservation while no resident app waits (a revive's
10,000 offers for one new app held the Marathon thread ~0.4 CPU-s, API requests
waiting, bench/scale.py)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.marathon import _offers
from actors.marathon._messages import Decline, Launch, Offers
from actors.resources import Resources

from ._core_kit import Sim, app, of

N = 3000


@pytest.mark.parametrize(
    ("instances", "cpus", "read"),
    [
        (10, 0.05, 1),  # the first offer takes all ten: the rest is declined unread
        (3000, 8.0, 1500),  # two per offer: half the batch is read, each offer once
        (9000, 8.0, N),  # more than the batch holds: every offer, once
    ],
)
def test_a_big_batch_is_parsed_once_per_offer_as_far_as_needed_and_then_forgotten(
    monkeypatch: pytest.MonkeyPatch, instances: int, cpus: float, read: int
) -> None:
    sim = Sim()
    sim.subscribe()
    body = app("/probe", instances=instances, cpus=cpus, mem=32, ports=[])
    sim.api("create_app", body=body)
    offers = [sim.offer(f"h{i}", "cpus:16;mem:65536;ports:[31000-31100]") for i in range(N)]
    parsed: list[int] = []
    real = Resources.from_dict.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, data: Any) -> Resources:
        parsed.append(id(data))
        return real(cls, data)  # type: ignore[no-any-return]

    monkeypatch.setattr(Resources, "from_dict", classmethod(counting))
    out = sim.feed(Offers(offers))
    offer_dicts = {id(o.resources) for o in offers}
    per_offer = [i for i in parsed if i in offer_dicts]
    assert len(per_offer) == read  # each offer once, though two matchers read it
    assert len(set(per_offer)) == read
    assert not _offers._PARSED_OFFERS  # the batch's memo is gone
    launches = of(Launch, out)
    assert sum(len(e.tasks) for e in launches) == min(instances, 2 * N)
    declined = {i for d in of(Decline, out) for i in d.offer_ids}
    used = {e.offer_id for e in launches}
    assert declined | used == {o.offer_id for o in offers}  # none leaked
    assert not declined & used
