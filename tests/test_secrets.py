"""Secrets created private: the home and what the cloud writes in it are the learner's alone from the
first moment (no chmod afterwards), and a zip cannot plant setuid files or write outside its folder."""

from __future__ import annotations

import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from lambdalab.core import state
from lambdalab.engine.package import PackageError, _extract
from support import create_function, create_role, invoke_json, make_zip


class ModeWatcher:
    """Polls a folder tree in a thread and remembers every path it ever saw open to group or others."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.seen: set[str] = set()
        self.open_to_others: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ModeWatcher":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._look()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._look()

    def _look(self) -> None:
        for directory, names, files in os.walk(self.root):
            for name in [*names, *files]:
                self._check(os.path.join(directory, name))
        self._check(str(self.root))

    def _check(self, path: str) -> None:
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        self.seen.add(path)
        relative = os.path.relpath(path, self.root)
        in_code = "/cloud/code/" in path or "/cloud/layers/" in path  # inside 0700 folders, modes from the zip
        if stat.S_ISLNK(mode) or (in_code and not stat.S_ISDIR(mode)):
            return
        if mode & 0o077:
            self.open_to_others[relative] = mode & 0o7777


def test_nothing_in_the_home_is_ever_readable_by_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalab.client import control

    home = tmp_path / "home"
    monkeypatch.setenv("LAMBDALAB_HOME", str(home))
    old_umask = os.umask(0o022)  # a usual umask: privacy must not depend on the learner's
    try:
        with ModeWatcher(tmp_path) as watcher:
            current = control.ensure_running(home)
            try:
                control.aws_environment(current)  # the empty aws-config / aws-credentials files
                from support import TestCloud

                cloud = TestCloud(home, None, current.endpoint, vars(current))  # type: ignore[arg-type]
                lam = cloud.client("lambda")
                create_function(lam, "private", "def handler(e, c):\n    return 1\n", create_role(cloud.client("iam")))
                assert invoke_json(lam, "private")[1] == 1
                cloud.admin("GET", "/lambdalab/status")
                import time

                deadline = time.monotonic() + 20
                while cloud.admin("GET", "/lambdalab/account")["pending"] and time.monotonic() < deadline:
                    time.sleep(0.1)
            finally:
                control.stop(home)
    finally:
        os.umask(old_umask)
    names = {os.path.relpath(path, home) for path in watcher.seen}
    for expected in ("cloud.json", "credentials.json", "account.pickle", "aws-config", "aws-credentials",
                     "start.lock", "cloud", "cloud/code", "cloud/environments"):
        assert expected in names, f"{expected} was never seen: the watch proves nothing about it"
    assert watcher.open_to_others == {}
    assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


def test_a_secret_is_0600_from_its_first_byte(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the worst umask: a file made with default modes would be 0666
    try:
        state.write_private(tmp_path / "secret.json", b"{}")
        state.private_empty_file(tmp_path / "empty")
        state.make_private_home(tmp_path / "new-home")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(tmp_path / "secret.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "empty").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new-home").st_mode) == 0o700
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_setuid_setgid_and_sticky_bits_are_stripped_but_exec_bits_stay(tmp_path: Path) -> None:
    package = make_zip({"bootstrap": "#!/bin/sh\n", "tool": "x", "plain.txt": "y"},
                       modes={"bootstrap": 0o4755, "tool": 0o6711, "plain.txt": 0o1644})
    _extract(package, tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "bootstrap").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "tool").st_mode) == 0o711 | stat.S_IRUSR
    assert stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode) == 0o644


def _zip_of(entries: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def test_zip_entries_cannot_write_outside_the_package(tmp_path: Path) -> None:
    target = tmp_path / "code"
    target.mkdir()
    link = zipfile.ZipInfo("link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16  # a symlink entry: its data is the link's target
    entries = [(zipfile.ZipInfo("../escaped.txt"), b"out"), (zipfile.ZipInfo(str(tmp_path / "absolute.txt")), b"abs"),
               (zipfile.ZipInfo("a/../../../dotdot.txt"), b"dd"), (link, str(tmp_path / "outside").encode()),
               (zipfile.ZipInfo("link/through.txt"), b"through")]
    try:
        _extract(_zip_of(entries), target)
    except PackageError:
        pass  # refusing the package is fine too; writing outside is not
    assert sorted(path.name for path in tmp_path.iterdir()) == ["code"]
    assert not (target / "link").is_symlink()
    for path in target.rglob("*"):
        assert path.resolve().is_relative_to(target.resolve())
