"""Log arithmetic, pure: lines and their offsets, where the last N lines start, the
query (skip/limit/cursor/Last-Event-ID), SSE framing and its round trip through the
console's parser, which must resume at exactly the next line (dcos-log: the event id is
the offset after the line)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from actors.logs import BadLogQuery, Line, LogQuery, TailFinder, parse_query, split_lines
from actors.logs._lines import (
    MAX_LIMIT,
    component_filter,
    cursor_offset,
    json_entry,
    negotiate,
    sse_event,
    sse_named,
    utf8_safe_end,
)
from console._obs_cmds import SseParser, match_tasks, task_log_path


def test_complete_lines_carry_their_byte_offsets_and_the_partial_tail_is_left_for_later() -> None:
    lines, nxt = split_lines(b"ab\ncd\nef", 100)
    assert lines == [Line(100, 103, "ab"), Line(103, 106, "cd")]
    assert nxt == 106  # "ef" is read again once its newline has come


def test_the_partial_tail_is_a_line_when_the_writer_is_done() -> None:
    lines, nxt = split_lines(b"ab\ncd", 0, final=True)
    assert [x.text for x in lines] == ["ab", "cd"] and nxt == 5


def test_a_line_longer_than_the_maximum_is_cut_into_pieces() -> None:
    lines, nxt = split_lines(b"x" * 10 + b"\n", 0, max_line=4)
    assert [x.text for x in lines] == ["xxxx", "xxxx", "xx"]
    assert [(x.offset, x.end) for x in lines] == [(0, 4), (4, 8), (8, 11)] and nxt == 11


def test_reading_in_any_chunking_yields_the_same_lines_with_no_gap_or_overlap() -> None:
    data = b"".join(b"line %d\r\n" % i for i in range(50)) + "é\n".encode()
    whole, _ = split_lines(data, 0)
    for size in (1, 3, 7, 64):
        got: list[Line] = []
        at, carry = 0, b""
        while at < len(data):
            chunk = data[at : at + size]
            lines, nxt = split_lines(carry + chunk, at - len(carry))
            got += lines
            carry = (carry + chunk)[nxt - (at - len(carry)) :]
            at += len(chunk)
        assert got == whole, size
    assert whole[0].text == "line 0" and whole[-1].text == "é"  # \r stripped


def test_utf8_safe_end_never_cuts_a_character() -> None:
    e = "é".encode()  # 2 bytes
    euro = "€".encode()  # 3 bytes
    assert utf8_safe_end(b"ab") == 2
    assert utf8_safe_end(b"a" + e[:1]) == 1
    assert utf8_safe_end(b"a" + e) == 3
    assert utf8_safe_end(euro[:2]) == 0
    assert utf8_safe_end(b"x" + euro) == 4


@pytest.mark.parametrize(
    ("data", "n", "want"),
    [
        (b"a\nb\nc\n", 2, 2),
        (b"a\nb\nc\n", 1, 4),
        (b"a\nb\nc", 1, 4),  # no final newline: "c" is the last line
        (b"a\nb\nc\n", 3, 0),
        (b"a\nb\nc\n", 10, 0),  # fewer lines than asked: from the start
        (b"", 5, 0),
    ],
)
def test_tail_finder_finds_where_the_last_n_lines_start(data: bytes, n: int, want: int) -> None:
    assert TailFinder(n, len(data)).feed(data, 0) == want


def test_tail_finder_works_backwards_across_small_chunks() -> None:
    data = b"".join(b"row %d\n" % i for i in range(100))
    for size in (1, 5, 13, 4096):
        finder = TailFinder(7, len(data))
        pos, found = len(data), None
        while found is None:
            start = max(0, pos - size)
            found = finder.feed(data[start:pos], start)
            pos = start
        assert data[found:].decode().splitlines() == [f"row {i}" for i in range(93, 100)]


def test_tail_finder_counts_only_matching_lines() -> None:
    data = b"x marathon\ny other\nz marathon\nw other\n"
    finder = TailFinder(2, len(data), lambda t: "marathon" in t)
    assert finder.feed(data, 0) == 0
    finder = TailFinder(1, len(data), lambda t: "marathon" in t)
    assert data[finder.feed(data, 0) or 0 :].startswith(b"z marathon")


def test_query_defaults_and_dcos_log_parameters() -> None:
    assert parse_query({}) == LogQuery("BEG", 0, None)
    assert parse_query({"skip": "-10"}) == LogQuery("END", -10, None)
    assert parse_query({"cursor": "BEG", "skip": "-10"}) == LogQuery("BEG", -10, None)
    assert parse_query({"cursor": "120", "limit": "5"}) == LogQuery(120, 0, 5)
    assert parse_query({"limit": str(10**12)}).limit == MAX_LIMIT  # clamped
    assert parse_query({"skip": str(-(10**12))}).skip == -MAX_LIMIT


def test_last_event_id_wins_over_the_url_as_a_reconnecting_client_needs() -> None:
    q = parse_query({"skip": "-10", "cursor": "END"}, last_event_id="4711")
    assert q == LogQuery(4711, 0, None, resumed=True)


@pytest.mark.parametrize(
    ("params", "header", "named"),
    [
        ({"limit": "ten"}, None, "limit"),
        ({"limit": "-1"}, None, "limit"),
        ({"skip": "1.5"}, None, "skip"),
        ({"cursor": "-3"}, None, "cursor"),
        ({"cursor": "somewhere"}, None, "cursor"),
        ({}, "x1", "Last-Event-ID"),
        ({}, "-5", "Last-Event-ID"),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    params: dict[str, str], header: str | None, named: str
) -> None:
    with pytest.raises(BadLogQuery, match=named):
        parse_query(params, header)


def test_cursor_offsets_are_clamped_to_the_file() -> None:
    assert cursor_offset("BEG", 50) == 0
    assert cursor_offset("END", 50) == 50
    assert cursor_offset(20, 50) == 20
    assert cursor_offset(99, 50) == 50


def test_accept_header_picks_the_format() -> None:
    assert negotiate(None) == "text"
    assert negotiate("*/*") == "text"
    assert negotiate("application/json") == "json"
    assert negotiate("text/event-stream") == "sse"
    assert negotiate("text/html, text/event-stream;q=0.9") == "sse"


def test_sse_frames_round_trip_through_the_console_parser_with_offsets_as_ids() -> None:
    lines, _ = split_lines(b"one\ntwo\rhalf\n", 0)
    wire = b"".join(sse_event(x) for x in lines) + b": keepalive\n\n"
    wire += sse_named("error", {"message": "agent S1 is gone"})
    parser = SseParser()
    events = [e for raw in wire.decode().splitlines(keepends=True) if (e := parser.feed(raw))]
    assert [(e.event, e.data, e.id) for e in events] == [
        ("message", "one", "4"),
        ("message", "two\nhalf", "13"),  # a carriage return became a second data field
        ("error", json.dumps({"message": "agent S1 is gone"}), None),
    ]


def test_resuming_at_an_event_id_gives_exactly_the_following_lines() -> None:
    data = b"".join(b"n%d\n" % i for i in range(20))
    lines, _ = split_lines(data, 0)
    last_seen = lines[7]
    resumed, _ = split_lines(data[last_seen.end :], last_seen.end)
    assert [x.text for x in lines[:8] + resumed] == [f"n{i}" for i in range(20)]


def test_json_entries_carry_the_line_offset_cursor_and_time() -> None:
    doc = json.loads(json_entry(Line(10, 15, "abcd"), 1.5, "stdout"))
    assert doc == {
        "fields": {"MESSAGE": "abcd", "STREAM": "stdout"},
        "cursor": "15",
        "offset": 10,
        "realtime_timestamp": 1_500_000,
    }


def test_marathon_lines_are_the_master_log_lines_of_its_loggers() -> None:
    match = component_filter("marathon")
    assert match is not None
    assert match("2026-12-06 09:14:56,602 INFO actors.marathon: loaded")
    assert match("2026-12-06 09:14:56,602 INFO actors.marathon.api: x")
    assert not match("2026-12-06 09:14:56,602 INFO actors.metronome: x")
    assert not match("Traceback (most recent call last):")
    assert component_filter("master") is None


TASKS: list[dict[str, Any]] = [
    {"id": "web.1", "state": "TASK_RUNNING", "slave_id": "S1"},
    {"id": "web.2", "state": "TASK_RUNNING", "slave_id": "S2"},
    {"id": "webber.1", "state": "TASK_RUNNING", "slave_id": "S1"},
    {"id": "shop_api.1", "state": "TASK_FAILED", "statuses": [{"timestamp": 1.0}]},
    {"id": "shop_api.2", "state": "TASK_KILLED", "statuses": [{"timestamp": 9.0}]},
]


@pytest.mark.parametrize(
    ("what", "ids"),
    [
        ("web.2", ["web.2"]),  # an exact id
        ("/web", ["web.1", "web.2"]),  # an app: all its running instances
        ("web", ["web.1", "web.2"]),
        ("webb", ["webber.1"]),  # an id prefix
        ("/shop/api", ["shop_api.2"]),  # no running one: the latest finished
        ("nothing", []),
    ],
)
def test_a_task_or_an_app_names_its_tasks(what: str, ids: list[str]) -> None:
    assert [t["id"] for t in match_tasks(TASKS, what)] == ids


def test_task_log_paths_name_the_agent_and_quote_the_file() -> None:
    t = {"id": "web.1", "slave_id": "S1"}
    assert task_log_path(t, "stdout") == "/system/v1/agent/S1/logs/v2/task/web.1"
    assert task_log_path(t, "logs/a b") == "/system/v1/agent/S1/logs/v2/task/web.1/file/logs/a%20b"
