"""Repositories are fetched once and re-read when the file changes (real files, no mock)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from actors.packages._api import Repositories
from actors.packages._errors import RepositoryError, RepositoryNotUniverse


def entry(name: str) -> dict[str, object]:
    return {
        "packagingVersion": "3.0",
        "name": name,
        "version": "1",
        "maintainer": "m",
        "description": "d",
    }


def test_a_file_repository_is_cached_until_it_changes(tmp_path: Path) -> None:
    repo = tmp_path / "repo.json"
    repo.write_text(json.dumps({"packages": [entry("one")]}))
    repos = Repositories()
    spec = [{"name": "r", "uri": repo.as_uri()}]

    async def main() -> None:
        first = await repos.catalog_of(spec, now=0.0)
        assert list(first.by_name) == ["one"]
        assert await repos.catalog_of(spec, now=1.0) is first  # nothing changed: same catalog
        repo.write_text(json.dumps({"packages": [entry("one"), entry("two")]}))
        os.utime(repo, ns=(0, 1))  # a different mtime even within one clock tick
        second = await repos.catalog_of(spec, now=2.0)
        assert sorted(second.by_name) == ["one", "two"]
        # Broken now: the last good copy is served; a fresh load (repository/add) refuses.
        repo.write_text("{broken")
        os.utime(repo, ns=(0, 2))
        assert sorted((await repos.catalog_of(spec, now=3.0)).by_name) == ["one", "two"]
        with pytest.raises(RepositoryNotUniverse):
            await repos.load(repo.as_uri(), now=3.0, fresh=True)
        with pytest.raises(RepositoryError, match="cannot read"):
            await repos.load((tmp_path / "gone.json").as_uri(), now=3.0)

    asyncio.run(main())
