"""Mesos-DNS naming rules (records/labels, docs/naming.md), as pure functions."""

from __future__ import annotations

import pytest

from actors.dns import app_dns_name, domain_frag, rfc952_label, rfc1123_label
from actors.dns._names import agent_id_tail, task_hash


@pytest.mark.parametrize(
    ("app_id", "name"),
    [
        ("/shop/web", "web-shop"),
        ("/web", "web"),
        ("/a/b/c", "c-b-a"),
        ("shop/web/", "web-shop"),
    ],
)
def test_marathon_app_ids_become_mesos_dns_names_path_reversed(app_id: str, name: str) -> None:
    assert app_dns_name(app_id) == name


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("apiserver.myservice", "apiserver-myservice"),  # Mesos-DNS' own example
        ("Web_Server", "web-server"),
        ("123abc", "abc"),  # RFC 952: starts with a letter
        ("-x-", "x"),
        ("a" * 40, "a" * 24),  # at most 24 characters
        ("ab$%^c", "abc"),
        ("abcdefghijklmnopqrstuvw-xyz", "abcdefghijklmnopqrstuvwx"),
        ("", ""),
        ("...", ""),
    ],
)
def test_rfc952_label_sanitises_like_mesos_dns(raw: str, label: str) -> None:
    assert rfc952_label(raw) == label


def test_rfc1123_keeps_leading_digits_and_63_characters() -> None:
    assert rfc1123_label("123abc") == "123abc"
    assert rfc1123_label("x" * 100) == "x" * 63


def test_a_label_never_ends_with_a_hyphen_after_the_cut() -> None:
    # cut at 24 lands on a hyphen: the next characters fill the label instead
    raw = "a" * 23 + "-bcdef"
    out = rfc952_label(raw)
    assert len(out) <= 24 and not out.endswith("-") and out.startswith("a" * 23)


def test_framework_names_keep_their_dots() -> None:
    assert domain_frag("marathon.prod") == "marathon.prod"
    assert domain_frag("Marathon..Prod_1") == "marathon.prod-1"


def test_canonical_name_parts() -> None:
    assert agent_id_tail("0a1b-2c3d-S12") == "s12"
    h = task_hash("web.1")
    assert len(h) == 5 and h == task_hash("web.1") and h != task_hash("web.2")
    assert set(h) <= set("ybndrfg8ejkmcpqxot1uwisza345h769")
