"""How Mesos-DNS turns task, app and framework names into DNS labels (pure).

RFC 952 / RFC 1123 mangling exactly as Mesos-DNS' ``records/labels``: lower-case, keep
``a-z0-9``, map ``-``, ``.`` and ``_`` to ``-``, drop every other character, trim
leading/trailing hyphens (RFC 952 also leading digits), cut at 24 (RFC 952) or 63
(RFC 1123) characters. A framework name keeps its dots (each part is one label).

Marathon app ``/shop/web`` is served as ``web-shop`` (its path reversed, joined with
``-``), the name Marathon puts in the task's DiscoveryInfo.
"""

from __future__ import annotations

import functools
import hashlib

RFC952_MAX = 24
RFC1123_MAX = 63

_ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"


def _mangle(name: str, maxlen: int, left: str, right: str) -> str:
    out = []
    for ch in name:
        if "A" <= ch <= "Z":
            out.append(ch.lower())
        elif "a" <= ch <= "z" or "0" <= ch <= "9":
            out.append(ch)
        elif ch in "-._":
            out.append("-")
    trimmed = "".join(out).lstrip(left)
    size = min(len(trimmed), maxlen)
    head = trimmed[:size].rstrip(right)
    if len(head) == size:
        return head
    tail = trimmed[size:].lstrip(right)
    return head + tail[: size - len(head)] if tail else head


def rfc952_label(name: str) -> str:
    """One RFC 952 host label: at most 24 characters, starts with a letter, ends with a
    letter or digit (``"Web_Server.01"`` -> ``"web-server-01"``); may be empty."""
    return _mangle(name, RFC952_MAX, "-0123456789", "-")


def rfc1123_label(name: str) -> str:
    """One RFC 1123 host label: at most 63 characters, no leading/trailing hyphen."""
    return _mangle(name, RFC1123_MAX, "-", "-")


@functools.lru_cache(maxsize=16384)  # tasks of one app share their name
def label(name: str, rfc952: bool = True) -> str:
    return rfc952_label(name) if rfc952 else rfc1123_label(name)


@functools.lru_cache(maxsize=16384)  # every table rebuild names every task again
def domain_frag(name: str, rfc952: bool = True) -> str:
    """A framework name as one or more labels joined by dots (``marathon.prod`` stays
    two labels); parts that mangle to nothing are dropped."""
    return ".".join(p for p in (label(part, rfc952) for part in name.split(".")) if p)


def app_dns_name(app_id: str) -> str:
    """Marathon's Mesos-DNS name for an app: ``/shop/web`` -> ``web-shop``."""
    return "-".join(reversed([p for p in app_id.strip("/").split("/") if p]))


@functools.lru_cache(maxsize=131072)  # ~100,000 tasks' digests, ~15 MB at most
def task_hash(task_id: str) -> str:
    """Mesos-DNS' 5-character zbase32 digest of a task id (canonical names)."""
    digest = hashlib.sha1(task_id.encode()).digest()
    bits = int.from_bytes(digest[:4], "big") >> 7  # the first 25 bits
    return "".join(_ZBASE32[(bits >> (20 - 5 * i)) & 31] for i in range(5))


def agent_id_tail(agent_id: str) -> str:
    """The last ``-`` field of an agent id, lower-cased (``...-S3`` -> ``s3``)."""
    return agent_id.rsplit("-", 1)[-1].lower()
