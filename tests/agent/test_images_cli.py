"""``pydcos image import|list|rm`` in-process (console/_image_cmds.py): the local
registry of a cluster's state dir, one-line errors and exit 1 for bad input, and
nothing stored when an image is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.cli import main
from tests.ucr._image import build_image, busybox_image, busybox_layer, layer_tar, sha256


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_import_list_rm_in_a_state_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(tmp_path / "state")
    tar = busybox_image(tmp_path / "bb.tar")
    rc, out, _ = run(capsys, "image", "import", str(tar), "--state-dir", state)
    assert rc == 0 and out.startswith("imported busybox:latest (")
    assert (tmp_path / "state/images/busybox:latest.tar").is_file()
    rc, out, _ = run(
        capsys, "image", "import", str(tar), "--name", "team/bb:2", "--state-dir", state
    )
    assert rc == 0 and "team/bb:2" in out
    rc, out, _ = run(capsys, "image", "list", "--json", "--state-dir", state)
    images = json.loads(out)
    assert [d["name"] for d in images] == ["busybox:latest", "team/bb:2"]
    assert images[0]["layers"] == [sha256(busybox_layer())]
    rc, out, _ = run(capsys, "image", "list", "--state-dir", state)
    assert rc == 0 and "NAME" in out and "team/bb:2" in out
    rc, out, _ = run(capsys, "image", "rm", "team/bb:2", "--state-dir", state)
    assert rc == 0 and out.strip() == "removed team/bb:2"
    rc, out, _ = run(
        capsys, "image", "list", "--json", "--registry", str(tmp_path / "state/images")
    )
    assert [d["name"] for d in json.loads(out)] == ["busybox:latest"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["image", "rm", "ghost:1"], "image 'ghost:1' is not in the local image store"),
        (["image", "import", "/nonexistent.tar"], "FILE: '/nonexistent.tar': no such file"),
        (["image", "import", "@BB", "--name", "Bad Name"], "'Bad Name' is not a repository name"),
        (["image", "import", "/etc/hostname"], "is not an image tarball: not a tar archive"),
        (["image", "import", "@BAD"], "layer 0 digest mismatch"),
        (["image", "import", "@EVIL"], "entry 'x' of layer 0 is a symlink to '/../etc'"),
    ],
)
def test_bad_input_is_one_line_and_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    files = {
        "@BB": busybox_image(tmp_path / "bb.tar"),
        "@BAD": build_image(
            tmp_path / "bad.tar", [layer_tar([("file", "a", b"1")])], diff_ids=[sha256(b"x")]
        ),
        "@EVIL": build_image(tmp_path / "evil.tar", [layer_tar([("symlink", "x", "/../etc")])]),
    }
    argv = [str(files[a]) if a in files else a for a in argv]
    rc, out, err = run(capsys, *argv, "--state-dir", str(tmp_path / "state"))
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("pydcos: ") and message in err, err
    images = tmp_path / "state" / "images"
    assert not images.exists() or [p.name for p in images.iterdir()] == []
