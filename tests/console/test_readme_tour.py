"""README.md's tour, run as written against a real local cluster: what it shows is what a
user sees.

```
 README.md "## A tour of the CLI" ```console blocks
   "$ cmd  # comment" ──> the command;  the lines up to the next "$" ──> its output
 PYDCOS_HOME=<tmp>  (the tour's default state dir, so `pydcos cluster up` is used as is)
   each command: run it (pydcos -> python -m console.cli), stdout+stderr as one stream,
   normalise both sides (pids, ports, ids, times, durations, paths), compare the lines.
   Read-only commands (list, status, history, show, ask) are re-run until they match or
   a deadline passes: the README shows the settled state a user sees seconds later.
```

The commands are parsed from README.md itself, so the two cannot drift. A command that
is not ``pydcos ...`` must be in ``EQUIVALENTS`` (run here in an equivalent way) or in
``SKIPPED``; anything else fails the test. A ``pydcos`` command may end in ``| tail -N``
(its last N lines are compared).

Regenerate the tour's outputs after a change to what the commands print:
``PYDCOS_UPDATE_README=1 pytest tests/console/test_readme_tour.py`` rewrites each
command's output in README.md with what it printed (the state dir shown as
``/root/.pydcos``, as ``make demo`` run as root prints it), then check the diff.
"""

from __future__ import annotations

import collections
import contextlib
import difflib
import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runtime.testing import wait_for
from tests.console.conftest import REPO, pid_alive

pytestmark = [pytest.mark.slow, pytest.mark.zk, pytest.mark.timeout(600)]

README = REPO / "README.md"
TOUR_HEADING = "## A tour of the CLI"
SHOWN_HOME = "/root/.pydcos"
"""How the state dir's parent appears in README.md (``make demo`` as root)."""

READ_ONLY = re.compile(r"\b(list|status|history|show|ask|dns|vips|log)\b|^dig ")
"""Commands that change nothing: re-run until they match (state settles)."""
TAIL = re.compile(r"(?P<command>.+?)\s*\|\s*tail -(?P<lines>\d+)")
"""``pydcos ... | tail -N``: the command, and how many of its last lines the README shows."""
SETTLE_TIMEOUT = 60.0

SKIPPED: set[str] = set()
"""Tour commands deliberately not run (none today)."""


# -- parsing ------------------------------------------------------------------------------


@dataclass
class Step:
    command: str
    """The command as written, its ``# comment`` removed."""
    expected: list[str]
    """The README's output lines."""
    line: int
    """1-based line of the ``$`` in README.md (to rewrite it)."""


def tour_section(text: str) -> tuple[int, int]:
    """Line range [start, end) of the tour section (its heading to the next ``## ``)."""
    lines = text.splitlines()
    start = lines.index(TOUR_HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def strip_comment(command: str) -> str:
    """``pydcos x      # why`` -> ``pydcos x``: a comment starts at two spaces and ``#``."""
    return re.split(r"\s{2,}#", command, maxsplit=1)[0].strip()


def parse_tour(text: str) -> list[Step]:
    lines = text.splitlines()
    start, end = tour_section(text)
    steps: list[Step] = []
    in_block = False
    for i in range(start, end):
        line = lines[i]
        if line.startswith("```"):
            in_block = line.strip() == "```console" and not in_block
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            steps.append(Step(strip_comment(line[2:]), [], i + 1))
        elif steps:
            steps[-1].expected.append(line)
    for s in steps:
        while s.expected and not s.expected[-1].strip():
            s.expected.pop()  # the blank line that separates groups of commands
    return steps


# -- normalisation ------------------------------------------------------------------------

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RULES: list[tuple[str, str]] = [
    # cluster up's first superuser: a random password, printed once (issue 24)
    (r"\bpassword \S+(?=\s+\(shown once)", "password <password>"),
    (r"(?:/[\w.-]+)*/\.pydcos\b", "<home>"),  # the state dir's parent
    (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?", "<time>"),
    (r"\b\d{14}[A-Z0-9]{5}\b", "<run-id>"),  # Metronome run ids
    (UUID, "<uuid>"),
    (r"^<uuid> step \d+/\d+: .*$", ""),  # deployment watch progress (timing decides it)
    (r"\b[0-9a-f]{8,}\b", "<hex>"),  # task ids, short deployment ids, framework ids
    (r"-S\d+\b", "-S<n>"),  # agent ids
    (r"<hex>-\d{4}\b", "<hex>-<n>"),  # framework ids: the order frameworks registered in
    (r"\b127\.(?!0\.0\.1\b)\d{1,3}\.\d{1,3}\.\d{1,3}\b", "<vip-ip>"),  # hashed from the salt
    (r"\b(127\.0\.0\.1|localhost):\d+", r"\1:<port>"),
    (r"(\s-p )\d+\b", r"\1<port>"),  # dig -p PORT (cluster up's DNS hint)
    (r"^(zk|master-\d+|agent-\d+)(\s+)\d+\b", r"\1\2<pid>"),
    (r"\bmaster-\d+\b", "master-<n>"),  # which master leads is up to the election
    (r"\b\d+(?:\.\d+)?(\s?)(s|ms)\b", r"<t>\1\2"),  # durations
    (r'"(alloc_\w+|offers\w*)": [0-9.e+-]+', r'"\1": <n>'),  # actor ask's live counters
    (r"^note: no Docker engine at .*$", ""),  # the host has Docker or not
    (r"containerizers:mesos,docker", "containerizers:mesos"),
    # node list: what each agent runs, and so which agent (attributes) holds the resident
    # app's reservation, is placement; how many agents hold which reservation is not
    (
        r"^(127\.0\.0\.1\s+<hex>-S<n>\s+active)(?:\s+[\d.]+/\d+){3}\s+\d+(\s+\S+)\s+\S+$",
        r"\1 <used>\2 <attributes>",
    ),
    (r"^starting at [1-9]\d*$", "starting at <n>"),  # a resident task's count, not 0
    (r"\s+", " "),
]


def normalise(lines: list[str], hostnames: tuple[str, ...] = ()) -> collections.Counter[str]:
    """The lines as a multiset, with what varies from run to run replaced by <tokens>.

    Order is not compared: rows of a table come in the order of a dict or of an election
    (which master leads); what a row says, and how many rows, is.
    """
    out: collections.Counter[str] = collections.Counter()
    for raw in lines:
        line = raw.rstrip()
        for host in hostnames:
            line = re.sub(rf"\b{re.escape(host)}\b", "<host>", line)
        for pattern, repl in RULES:
            line = re.sub(pattern, repl, line, flags=re.M)
        line = line.strip()
        if line:
            out[line] += 1
    return out


def local_hostnames() -> tuple[str, ...]:
    names = {socket.gethostname(), socket.getfqdn()}
    return tuple(sorted((n for n in names if n and n != "localhost"), key=len, reverse=True))


# -- running ------------------------------------------------------------------------------


@dataclass
class Tour:
    home: Path
    env: dict[str, str]

    @property
    def state_dir(self) -> Path:
        return self.home / "cluster"

    def run(self, command: str) -> list[str]:
        tail = TAIL.fullmatch(command)
        if tail:
            return self.run(tail["command"])[-int(tail["lines"]) :]
        argv = shlex.split(command)
        assert argv[0] == "pydcos", f"not a pydcos command: {command!r}"
        r = subprocess.run(
            [sys.executable, "-m", "console.cli", *argv[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=180,
            cwd=REPO,
            env=self.env,
        )
        text = r.stdout.replace(str(self.home), SHOWN_HOME)
        return [x.rstrip() for x in text.splitlines()]

    def pids(self) -> list[int]:
        with contextlib.suppress(OSError, ValueError):
            rec = json.loads((self.state_dir / "cluster.json").read_text())
            procs = rec["processes"]
            return [p["pid"] for p in procs] + [p["child_pid"] for p in procs if p["child_pid"]]
        return []


def kill_leading_master(tour: Tour) -> list[str]:
    """``kill -9 <pid of the leading master>``: the pid from ``cluster status --json``."""
    status = json.loads("\n".join(tour.run("pydcos cluster status --json")))
    leader = [p for p in status["processes"] if p.get("role") == "leader"]
    assert len(leader) == 1, status
    os.kill(int(leader[0]["pid"]), signal.SIGKILL)
    return []


def dns_address(tour: Tour) -> tuple[str, int]:
    """The first live master's DNS server (``cluster up``'s DNS line), as its ready line
    reported it (the free port it bound)."""
    rec = json.loads((tour.state_dir / "cluster.json").read_text())
    for proc in rec["processes"]:
        if proc["kind"] == "master" and proc.get("dns") and pid_alive(proc["pid"]):
            host, _, port = proc["dns"].rpartition(":")
            return host, int(port)
    raise AssertionError(f"no live master with a DNS port in {tour.state_dir}")


def dig_short(name: str, tour: Tour) -> list[str]:
    """``dig +short -p <dns port> @127.0.0.1 NAME`` with the real port: dig itself when
    installed (``make`` installs bind9-dnsutils), else dnspython's answer, printed alike."""
    host, port = dns_address(tour)
    if shutil.which("dig"):
        argv = ["dig", "+short", "+time=2", "+tries=1", "-p", str(port), f"@{host}", name]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return [x.rstrip() for x in r.stdout.splitlines()]
    import dns.exception
    import dns.message
    import dns.query

    try:
        reply = dns.query.udp(dns.message.make_query(name, "A"), host, port=port, timeout=2)
    except dns.exception.Timeout:
        return []
    return [item.to_text() for rrset in reply.answer for item in rrset]


def kill_counter_task(tour: Tour) -> list[str]:
    """``kill -9 <pid of the counter task>``: the running /counter task's pid, from the
    agent's checkpoint (``<work dir>/meta/tasks/<task id>.json``), once the task has
    counted on its volume (a user reads the README for a few seconds first; killed before
    its first count, the replacement would rightly start at 0)."""

    def counted() -> bool:
        for count in tour.state_dir.glob("agents/*/volumes/roles/*/counter#data#*/count"):
            with contextlib.suppress(OSError, ValueError):
                if int(count.read_text()) >= 2:
                    return True
        return False

    wait_for(counted, timeout=30, what="the /counter task to count on its volume")

    def running() -> int | None:
        for meta in tour.state_dir.glob("agents/*/meta/tasks/counter.*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError):
                pid = int(json.loads(meta.read_text())["pid"])
                if pid_alive(pid):
                    return pid
        return None

    os.kill(wait_for(running, timeout=30, what="the /counter task's process"), signal.SIGKILL)
    return []


def run_example(command: str, tour: Tour) -> list[str]:
    """``python examples/...``: the example script with this venv's python, in the repo."""
    argv = shlex.split(command)
    r = subprocess.run(
        [sys.executable, *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
        cwd=REPO,
        env=tour.env,
    )
    return [x.rstrip() for x in r.stdout.splitlines()]


BUILD_IMAGE = "python examples/images/build_busybox.py /tmp/busybox.tar"

EQUIVALENTS: dict[str, Callable[[Tour], list[str]]] = {
    "kill -9 <pid of the leading master>": kill_leading_master,
    BUILD_IMAGE: functools.partial(run_example, BUILD_IMAGE),
    "kill -9 <pid of the counter task>": kill_counter_task,
    "dig +short -p <dns port> @127.0.0.1 web.marathon.l4lb.thisdcos.directory": (
        functools.partial(dig_short, "web.marathon.l4lb.thisdcos.directory")
    ),
}


EXPORT = re.compile(r"export (?P<name>[A-Z_][A-Z0-9_]*)=(?P<value>\S+)")
"""``export NAME=value``: the tour's later commands see it (a password for ``--password-env``)."""


def equivalent(command: str) -> Callable[[Tour], list[str]] | None:
    """How a command that is not run as written is run (None: run it as written)."""
    m = EXPORT.fullmatch(command)
    if m:

        def export(tour: Tour, name: str = m["name"], value: str = m["value"]) -> list[str]:
            tour.env[name] = value
            return []

        return export
    return EQUIVALENTS.get(command)


@pytest.fixture
def tour() -> Iterator[Tour]:
    # A short home: the tables fold paths longer than their column (160 wide when not on a
    # terminal), and pytest's tmp_path under a parallel worker (.../popen-gw1/...) made
    # the log paths long enough to fold where the README's do not.
    home = Path(tempfile.mkdtemp(prefix="tour-")) / "pydcos-home"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYDCOS_HOME=str(home))
    env.pop("PYDCOS_ZK", None)
    t = Tour(home, env)
    seen: set[int] = set()
    try:
        yield t
    finally:
        seen.update(t.pids())
        if (t.state_dir / "cluster.json").exists():
            t.run("pydcos cluster down")
        for pid in [p for p in seen if pid_alive(p)]:  # never leak a process
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(home.parent, ignore_errors=True)


def test_the_tour_parses_into_commands_with_outputs() -> None:
    steps = parse_tour(README.read_text())
    commands = [s.command for s in steps]
    assert commands[0].startswith("pydcos cluster up")
    assert commands[-1] == "pydcos cluster down"
    assert all(
        c.startswith("pydcos ") or equivalent(c) is not None or c in SKIPPED for c in commands
    )
    assert "pydcos marathon app add examples/apps/web.json" in commands


def test_normalise_hides_what_varies_and_keeps_what_matters() -> None:
    a = [
        "master-3   20011  up     leader   http://127.0.0.1:34209  /root/.pydcos/cluster/x.log",
        "started run 20261126201418IK2ET of job tick",
        "created app /web (deployment 83cfa708-9024-43b3-9384-4095c8254087)",
        "cluster up in 4.4 s  (state dir /root/.pydcos/cluster)",
    ]
    b = [
        "master-1 9956 up leader http://127.0.0.1:40191 /tmp/p/.pydcos/cluster/x.log",
        "started run 20261206040638F1HSI of job tick",
        "created app /web (deployment 515720c7-afff-4bea-aba2-7c50e3d00276)",
        "cluster up in 12.0 s  (state dir /tmp/p/.pydcos/cluster)",
    ]
    assert normalise(a) == normalise(b)
    assert normalise(["/web 32 0.10 2/2 0 2"]) != normalise(["/web 32 0.10 1/2 0 2"])
    assert normalise(["created job tick"]) != normalise(["created job tock"])
    vip = "web.marathon.l4lb.thisdcos.directory:80 -> 127.189.231.133:80 (2 backends)"
    assert normalise([vip]) == normalise([vip.replace("127.189.231.133", "127.140.2.8")])
    assert normalise(["web.marathon.mesos. A 5 127.0.0.1"]) != normalise(
        ["web.marathon.mesos. A 5 127.140.2.8"]
    )
    assert normalise(["metronome master-1 True 0 3d949f1e91a5-0002"]) == normalise(
        ["metronome master-2 True 0 90dcc32daad0-0004"]
    )
    hint = "DNS 127.0.0.1:51905, 127.0.0.1:42791  (dig -p 51905 @127.0.0.1 leader.mesos)"
    assert normalise([hint]) == normalise([hint.replace("51905", "40001")])
    node = "127.0.0.1  f96528de206b-S2  active  0.70/2  240/2048  64/4096  7      {}  zone:a"
    reserved = node.format("marathon(cpus:0.10,mem:32,disk:64)")
    assert normalise([reserved]) == normalise(
        [reserved.replace("0.70/2  240/2048  64/4096  7", "0.10/2  32/2048  64/4096  1")]
    )
    assert normalise([reserved]) != normalise([node.format("-")])
    other_rack = reserved.replace("zone:a", "zone:b")
    assert normalise([reserved]) == normalise([other_rack])
    pw = "superuser bootstrapuser  password {}  (shown once; kept in /root/.pydcos/x, mode 0600)"
    assert normalise([pw.format("-a1b2_C3d4e5F6g7h8i9J0kLm")]) == normalise([pw.format("Zz9")])
    assert normalise(["starting at 7"]) == normalise(["starting at 12"])
    assert normalise(["starting at 7"]) != normalise(["starting at 0"])


def test_a_pipe_to_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    tour = Tour(tmp_path, dict(os.environ, PYTHONPATH=str(REPO)))
    assert tour.run("pydcos --help | tail -1") == tour.run("pydcos --help")[-1:]


def test_readme_tour_prints_what_the_readme_shows(tour: Tour) -> None:
    text = README.read_text()
    steps = parse_tour(text)
    hosts = local_hostnames()
    update = bool(os.environ.get("PYDCOS_UPDATE_README"))
    actual: dict[int, list[str]] = {}
    """What each step printed, by its index in ``steps``."""
    failures: list[str] = []
    for index, step in enumerate(steps):
        if step.command in SKIPPED:
            continue
        want = normalise(step.expected, hosts)
        special = equivalent(step.command)

        def once(
            step: Step = step, special: Callable[[Tour], list[str]] | None = special
        ) -> list[str]:
            return special(tour) if special is not None else tour.run(step.command)

        got = once()
        if normalise(got, hosts) != want and READ_ONLY.search(step.command):
            # A read-only command is re-run until it prints what the README shows; at the
            # deadline the diff below shows what its last run printed.
            runs = [got]

            def settled(
                runs: list[list[str]] = runs, want: collections.Counter[str] = want
            ) -> bool:
                runs.append(once())
                return normalise(runs[-1], hosts) == want

            with contextlib.suppress(AssertionError):
                wait_for(
                    settled,
                    timeout=SETTLE_TIMEOUT,
                    what=f"{step.command!r} to print what README.md shows",
                    interval=0.5,
                    retry_errors=False,
                )
            got = runs[-1]
        actual[index] = got
        if normalise(got, hosts) != want:
            diff = "\n".join(
                difflib.unified_diff(
                    sorted(normalise(step.expected, hosts).elements()),
                    sorted(normalise(got, hosts).elements()),
                    "README.md",
                    "printed",
                    lineterm="",
                )
            )
            failures.append(
                f"$ {step.command}  (README.md:{step.line})\n{diff}\nprinted:\n" + "\n".join(got)
            )
    if update:
        # Others edit README.md too: read it again now and touch only the tour's outputs.
        fresh = README.read_text()
        again = parse_tour(fresh)
        assert [s.command for s in again] == [s.command for s in steps], "the tour changed"
        README.write_text(rewrite(fresh, again, actual))
    assert not failures, "\n\n".join(failures)


def rewrite(text: str, steps: list[Step], actual: dict[int, list[str]]) -> str:
    """README.md with each step's output (by index in ``steps``) replaced by what it
    printed; every line outside the tour's outputs is kept as it is."""
    lines = text.splitlines()
    out: list[str] = []
    by_line = {s.line: (i, s) for i, s in enumerate(steps)}
    i = 0
    while i < len(lines):
        out.append(lines[i])
        found = by_line.get(i + 1)
        i += 1
        if found is None:
            continue
        index, step = found
        i += len(step.expected)  # skip the old output (its trailing blanks stay)
        out.extend(actual.get(index, step.expected))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def test_rewrite_touches_only_the_outputs() -> None:
    text = README.read_text()
    steps = parse_tour(text)
    assert rewrite(text, steps, {}) == text
    new = rewrite(text, steps, {0: ["<printed by the test>"]})
    assert parse_tour(new)[0].expected == ["<printed by the test>"]
    assert new.replace("<printed by the test>", "\n".join(steps[0].expected), 1) == text


def test_the_demo_leaves_the_tours_ids_free(tmp_path: Path) -> None:
    """`make demo` then the tour: the tour's `app add`/`job add` (and /web's VIP) must not
    collide."""
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import demo_setup
    finally:
        sys.path.remove(str(REPO / "examples"))
    added = set()
    for step in parse_tour(README.read_text()):
        argv = shlex.split(step.command)
        if argv[1:3] in (["marathon", "app"], ["job", "add"]) and "add" in argv:
            added.add(json.loads((REPO / argv[-1]).read_text())["id"].strip("/"))
    assert {"web", "tick"} <= added
    assert demo_setup.APP_ID.strip("/") not in added
    assert demo_setup.JOB_ID not in added
    web = REPO / "examples" / "apps" / "web.json"
    demo_web = json.loads(demo_setup.renamed(web, demo_setup.APP_ID, tmp_path).read_text())
    vips = [
        value
        for port in demo_web["portDefinitions"]
        for key, value in port.get("labels", {}).items()
        if key.startswith("VIP_")
    ]
    assert vips == [demo_setup.APP_ID + ":80"]  # not the tour's /web:80
