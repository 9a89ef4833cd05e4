"""The Mesos fetcher, minus the cache: URIs into the sandbox, optionally extracted."""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from actors.agent._spec import FetchError, UriSpec

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


def fetch(uri: UriSpec, sandbox: Path, timeout: float = 30.0) -> Path:
    """Fetch one URI into `sandbox`; return the fetched file. Raises FetchError."""
    parsed = urllib.parse.urlparse(uri.uri)
    name = uri.output_file or os.path.basename(parsed.path.rstrip("/"))
    if not name or name in (".", ".."):
        raise FetchError(f"cannot fetch {uri.uri!r}: the URI names no file")
    dest = sandbox / name
    try:
        if parsed.scheme in ("http", "https"):
            with urllib.request.urlopen(uri.uri, timeout=timeout) as r, open(dest, "wb") as f:
                shutil.copyfileobj(r, f)
        elif parsed.scheme == "file" or (parsed.scheme == "" and uri.uri.startswith("/")):
            src = urllib.parse.unquote(parsed.path) if parsed.scheme else uri.uri
            shutil.copyfile(src, dest)
        else:
            raise FetchError(
                f"cannot fetch {uri.uri!r}: unsupported scheme {parsed.scheme or '(none)'!r} "
                "(use file://, http://, https:// or an absolute path)"
            )
    except FetchError:
        raise
    except urllib.error.HTTPError as e:
        raise FetchError(f"cannot fetch {uri.uri!r}: HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise FetchError(f"cannot fetch {uri.uri!r}: {e.reason}") from e
    except (OSError, ValueError) as e:
        raise FetchError(f"cannot fetch {uri.uri!r}: {e}") from e
    if uri.executable:
        dest.chmod(dest.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    elif uri.extract and name.endswith(ARCHIVE_SUFFIXES):
        _extract(dest, sandbox, uri.uri)
    return dest


def _extract(archive: Path, into: Path, uri: str) -> None:
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    _check_member(info.filename, into, uri)
                    z.extract(info, into)
                    mode = info.external_attr >> 16
                    if mode & 0o111:
                        target = into / info.filename
                        target.chmod(target.stat().st_mode | (mode & 0o777))
        else:
            with tarfile.open(archive) as t:
                t.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as e:
        raise FetchError(f"cannot extract {uri!r}: {e}") from e


def _check_member(name: str, into: Path, uri: str) -> None:
    target = (into / name).resolve()
    if not str(target).startswith(str(into.resolve()) + os.sep):
        raise FetchError(f"cannot extract {uri!r}: member {name!r} escapes the sandbox")
