"""The file server every agent runs, on a real directory: paths confined to the task's
sandbox (``..``, absolute paths elsewhere, symlinks out: 403, nothing read), reads
bounded and chunked, long-poll follows answered when the file grows, rotates, or its
task ends, and a bounded table of followers."""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

import pytest

from actors import protocol as p
from actors.logs import Confined, FileServer, Refused, confine, set_component_log
from actors.logs._components import component_logs
from runtime.testing import wait_for


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "sandboxes"
    (r / "t1" / "logs").mkdir(parents=True)
    (r / "t1" / "stdout").write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    (r / "t1" / "logs" / "app.log").write_text("app\n")
    (r / "t2").mkdir()
    (r / "t2" / "secret").write_text("t2's\n")
    (tmp_path / "outside").write_text("host file\n")
    return r


class Server:
    def __init__(self, root: Path, live: set[str] | None = None, **kw: object) -> None:
        self.sent: queue.Queue[tuple[str, p.FileChunk]] = queue.Queue()
        self.live = live if live is not None else {"t1"}
        self.files = FileServer(
            root,
            live=lambda t: t in self.live,
            send=lambda addr, chunk: self.sent.put((addr, chunk)),
            wall=lambda: 1000.0,
            poll_interval=0.01,
            **kw,  # type: ignore[arg-type]
        )

    def answer(self, timeout: float = 5.0) -> p.FileChunk:
        addr, chunk = self.sent.get(timeout=timeout)
        assert addr == "tcp://m:1/logs"
        return chunk


def follow(rid: str, offset: int, wait: float = 5.0, path: str = "stdout") -> p.FollowFile:
    return p.FollowFile(rid, "tcp://m:1/logs", path, "t1", "", offset, 4096, wait)


# -- confinement --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "task_id", "status"),
    [
        ("../t2/secret", "t1", 403),
        ("logs/../../t2/secret", "t1", 403),
        ("stdout/..", "t1", 403),
        ("/etc/passwd", "t1", 403),
        ("/etc/passwd", "", 403),
        ("relative/no/task", "", 400),
        ("stdout", "../t2", 400),
        ("stdout", "..", 400),
        ("bad\x00path", "t1", 400),
    ],
)
def test_paths_escaping_the_sandbox_are_refused(
    root: Path, path: str, task_id: str, status: int
) -> None:
    where = confine(Path(os.path.realpath(root)), path, task_id)
    assert isinstance(where, Refused) and where.status == status, where


def test_paths_inside_the_sandbox_are_found_relative_or_absolute(root: Path) -> None:
    real = Path(os.path.realpath(root))
    rel = confine(real, "logs/app.log", "t1")
    absolute = confine(real, f"{real}/t1/logs/app.log")
    assert isinstance(rel, Confined) and isinstance(absolute, Confined)
    assert rel.path == absolute.path == real / "t1" / "logs" / "app.log"
    assert absolute.task_id == "t1"


def test_an_absolute_path_in_another_tasks_sandbox_is_not_this_tasks(root: Path) -> None:
    real = Path(os.path.realpath(root))
    where = confine(real, f"{real}/t2/secret", "t1")
    assert isinstance(where, Refused) and where.status == 403


def test_symlinks_out_of_the_sandbox_are_refused_and_nothing_is_read(
    root: Path, tmp_path: Path
) -> None:
    (root / "t1" / "evil").symlink_to(tmp_path / "outside")
    (root / "t1" / "sibling").symlink_to(root / "t2")
    (root / "t1" / "ok").symlink_to(root / "t1" / "logs" / "app.log")
    s = Server(root)
    for path in ("evil", "sibling/secret"):
        chunk = s.files.read(p.ReadFile(path, "t1", "", 0, 100))
        assert chunk.status == 403 and chunk.data == b"", chunk
        assert "outside" in chunk.message
    listing = s.files.browse(p.BrowseFiles("sibling", "t1"))
    assert listing.status == 403 and listing.entries == []
    inside = s.files.read(p.ReadFile("ok", "t1", "", 0, 100))
    assert inside.status == 200 and inside.data == b"app\n"


# -- browse and read ----------------------------------------------------------------


def test_browse_lists_mesos_entries(root: Path) -> None:
    s = Server(root)
    listing = s.files.browse(p.BrowseFiles("", "t1"))
    assert listing.status == 200
    by_name = {Path(e["path"]).name: e for e in listing.entries}
    assert set(by_name) == {"logs", "stdout"}
    assert by_name["logs"]["mode"].startswith("d")
    assert by_name["stdout"]["size"] == (root / "t1" / "stdout").stat().st_size
    assert set(by_name["stdout"]) == {"path", "size", "mtime", "mode", "nlink", "uid", "gid"}
    missing = s.files.browse(p.BrowseFiles("", "t9"))
    assert missing.status == 404 and "t9" in missing.message


def test_reads_are_chunked_at_an_offset_and_bounded(root: Path) -> None:
    s = Server(root)
    size = (root / "t1" / "stdout").stat().st_size
    head = s.files.read(p.ReadFile("stdout", "t1", "", 0, 7))
    assert (head.status, head.offset, head.data, head.size) == (200, 0, b"line 0\n", size)
    probe = s.files.read(p.ReadFile("stdout", "t1", "", -1, 0))
    assert probe.offset == size and probe.data == b""
    past = s.files.read(p.ReadFile("stdout", "t1", "", size + 50, 10))
    assert past.status == 200 and past.data == b""
    huge = s.files.read(p.ReadFile("stdout", "t1", "", 0, 10**9))
    assert len(huge.data) == size <= p.MAX_READ_BYTES
    assert s.files.read(p.ReadFile("stdout", "t1", "", -2, 1)).status == 400
    assert s.files.read(p.ReadFile("stdout", "t1", "", 0, -1)).status == 400
    assert s.files.read(p.ReadFile("logs", "t1", "", 0, 1)).status == 400  # a directory
    gone = s.files.read(p.ReadFile("nope", "t1", "", 0, 1))
    assert gone.status == 404 and "nope" in gone.message


def test_a_big_file_is_read_in_bounded_chunks(root: Path) -> None:
    big = root / "t1" / "big"
    big.write_bytes(os.urandom(p.MAX_READ_BYTES * 2 + 123))
    s = Server(root)
    got, offset = b"", 0
    while True:
        chunk = s.files.read(p.ReadFile("big", "t1", "", offset, 10**9))
        assert len(chunk.data) <= p.MAX_READ_BYTES
        if not chunk.data:
            break
        got += chunk.data
        offset += len(chunk.data)
    assert got == big.read_bytes()


def test_done_says_the_writer_finished(root: Path) -> None:
    s = Server(root, live=set())
    assert s.files.read(p.ReadFile("stdout", "t1", "", 0, 10)).done
    s.live.add("t1")
    assert not s.files.read(p.ReadFile("stdout", "t1", "", 0, 10)).done


def test_component_logs_are_served_by_name(tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    log.write_text("started\n")
    before = component_logs()
    set_component_log("agent", log)
    try:
        s = FileServer(None, components=component_logs, send=lambda a, c: None, wall=lambda: 0)
        chunk = s.read(p.ReadFile(component="agent", length=100))
        assert chunk.status == 200 and chunk.data == b"started\n" and not chunk.done
        other = s.read(p.ReadFile(component="zookeeper"))
        assert other.status == 404 and "zookeeper" in other.message
        assert s.read(p.ReadFile("stdout", "t1")).status == 404  # no sandboxes here
    finally:
        set_component_log("agent", before.get("agent"))


# -- follow -------------------------------------------------------------------------


def test_a_follow_with_data_past_its_offset_is_answered_at_once(root: Path) -> None:
    s = Server(root)
    s.files.follow(follow("r1", 0))
    chunk = s.answer(timeout=1)
    assert chunk.request_id == "r1" and chunk.data.startswith(b"line 0\n")


def test_a_follow_at_the_end_waits_for_the_next_write(root: Path) -> None:
    s = Server(root)
    out = root / "t1" / "stdout"
    end = out.stat().st_size
    s.files.follow(follow("r2", end))
    wait_for(lambda: s.files.waiting() == 1, what="the follow is held")
    assert s.sent.empty()
    with open(out, "ab") as f:
        f.write(b"fresh\n")
    chunk = s.answer()
    assert (chunk.request_id, chunk.offset, chunk.data) == ("r2", end, b"fresh\n")
    assert s.files.waiting() == 0


def test_a_quiet_follow_is_answered_empty_when_its_wait_runs_out(root: Path) -> None:
    s = Server(root)
    end = (root / "t1" / "stdout").stat().st_size
    s.files.follow(follow("r3", end, wait=0.05))
    chunk = s.answer()
    assert chunk.status == 200 and chunk.data == b"" and not chunk.done


def test_a_follow_ends_when_the_task_ends(root: Path) -> None:
    s = Server(root)
    end = (root / "t1" / "stdout").stat().st_size
    s.files.follow(follow("r4", end, wait=30))
    wait_for(lambda: s.files.waiting() == 1, what="the follow is held")
    s.live.discard("t1")
    chunk = s.answer()
    assert chunk.done and chunk.data == b""


def test_a_rotated_file_is_followed_from_its_start(root: Path) -> None:
    s = Server(root)
    out = root / "t1" / "stdout"
    end = out.stat().st_size
    s.files.follow(follow("r5", end))
    wait_for(lambda: s.files.waiting() == 1, what="the follow is held")
    os.truncate(out, 0)  # copytruncate
    with open(out, "ab") as f:
        f.write(b"after rotation\n")
    chunk = s.answer()
    if chunk.offset == 0 and chunk.data == b"":
        # The truncation was seen before the write: the answer says "start again at 0"
        # with nothing yet, and the next follow from 0 gets the line.
        s.files.follow(follow("r6", 0))
        chunk = s.answer()
    assert chunk.offset == 0 and chunk.data == b"after rotation\n"


def test_followers_are_bounded_and_refusals_are_answered(root: Path) -> None:
    s = Server(root, max_waiters=2)
    end = (root / "t1" / "stdout").stat().st_size
    for i in range(3):
        s.files.follow(follow(f"b{i}", end, wait=30))
    refused = s.answer(timeout=1)
    assert refused.request_id == "b2" and refused.status == 503
    assert s.files.waiting() == 2
    bad = follow("b3", 0, path="../t2/secret")
    s.files.follow(bad)
    assert s.answer(timeout=1).status == 403
    s.files.close()
    assert s.files.waiting() == 0


def test_many_threads_following_one_file_each_get_their_own_answer(root: Path) -> None:
    s = Server(root)
    out = root / "t1" / "stdout"
    end = out.stat().st_size
    threads = [
        threading.Thread(target=s.files.follow, args=(follow(f"m{i}", end),)) for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_for(lambda: s.files.waiting() == 20, what="20 follows held")
    with open(out, "ab") as f:
        f.write(b"x\n")
    ids = {s.answer().request_id for _ in range(20)}
    assert ids == {f"m{i}" for i in range(20)}


def test_absolute_paths_through_a_symlinked_work_dir_are_found(root: Path, tmp_path: Path) -> None:
    """The agent's state names sandboxes under ``--work-dir`` as given; when that goes
    through a symlink the same files are served, and nothing outside them."""
    link = tmp_path / "work-link"
    link.symlink_to(root.parent)
    s = FileServer(link / "sandboxes", send=lambda a, c: None, wall=lambda: 0.0)
    chunk = s.read(p.ReadFile(f"{link}/sandboxes/t1/logs/app.log", length=100))
    assert chunk.status == 200 and chunk.data == b"app\n"
    escape = s.read(p.ReadFile(f"{link}/sandboxes/../outside", length=100))
    assert escape.status == 403
