"""The compile cache's directory from the environment: where it cannot be used (HOME
empty or unset, TL_CACHE_DIR a file, under a file, unwritable, the root directory) code
is built uncached after one CacheWarning per reason, and nothing is written to ``/``."""
import errno
import os
import warnings

import pytest

from tensorlang import cli
from tensorlang.target import disk_cache
from tensorlang.target.cuda import nvcc
from tensorlang.target.disk_cache import CacheWarning
from tensorlang.target.llvm import build, cache

from damage_child import check, saxpy


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(disk_cache, "_warned", set())
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)


def _builds_uncached_warning_once(match):
    """Two builds work, with one CacheWarning matching ``match`` between them, and the
    cache is off for every user of the cache directory."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            check(build(saxpy(), "llvm"))
            assert cache.cache_dir() is None
            assert nvcc.nvcc_cache_dir() is None
            assert cli.default_demo_log(64) is None
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == 1, messages
    assert match in messages[0] and "TL_CACHE_DIR" in messages[0], messages[0]


@pytest.mark.parametrize("home, match", [("", "HOME is empty"), (None, "HOME is not set"),
                                         ("/", "is the root directory"),
                                         ("relative/home", "not an absolute path")])
def test_no_usable_home_builds_uncached_and_never_writes_to_root(monkeypatch, home, match):
    monkeypatch.delenv("TL_CACHE_DIR")
    if home is None:
        monkeypatch.delenv("HOME", raising=False)
    else:
        monkeypatch.setenv("HOME", home)
    _builds_uncached_warning_once(match)


def test_cache_dir_that_is_a_file(tmp_path, monkeypatch):
    path = tmp_path / "a-file"
    path.write_text("not a directory")
    monkeypatch.setenv("TL_CACHE_DIR", str(path))
    _builds_uncached_warning_once(f"{path} (TL_CACHE_DIR=")
    assert path.read_text() == "not a directory"


def test_cache_dir_under_a_file(tmp_path, monkeypatch):
    path = tmp_path / "a-file"
    path.write_text("")
    monkeypatch.setenv("TL_CACHE_DIR", str(path / "cache" / "here"))
    _builds_uncached_warning_once(f"cannot be created: {path} is not a directory")


def test_unwritable_cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "read-only"
    directory.mkdir()
    monkeypatch.setenv("TL_CACHE_DIR", str(directory))
    if os.geteuid() == 0:  # root writes anywhere: let the check see what others would
        real_access = os.access
        monkeypatch.setattr(disk_cache.os, "access", lambda path, mode: False if
                            os.fspath(path) == str(directory) else real_access(path, mode))
    else:
        directory.chmod(0o500)
    try:
        _builds_uncached_warning_once("is not writable")
    finally:
        directory.chmod(0o700)
    assert list(directory.iterdir()) == []


def test_root_directory_as_cache_dir(monkeypatch):
    monkeypatch.setenv("TL_CACHE_DIR", "/")
    _builds_uncached_warning_once("root directory")


def test_each_reason_is_said_once(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_CACHE_DIR")
    with pytest.warns(CacheWarning) as caught:
        for home in ["", "", "/", "", "/"]:
            monkeypatch.setenv("HOME", home)
            assert cache.cache_dir() is None
    assert len(caught) == 2
    monkeypatch.setenv("HOME", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert cache.cache_dir() == os.path.join(str(tmp_path), ".cache", "tensorlang", "llvm")


def test_xdg_cache_home_is_honoured_if_absolute(tmp_path, monkeypatch):
    monkeypatch.delenv("TL_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == str(tmp_path / "xdg" / "tensorlang" / "llvm")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG spec says
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "tensorlang" / "llvm")


def test_failed_writes_warn_once_and_build_uncached(tmp_path, monkeypatch):
    monkeypatch.setenv("TL_CACHE_DIR", str(tmp_path))

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(disk_cache.tempfile, "mkstemp", disk_full)
    with pytest.warns(CacheWarning, match="No space left on device") as caught:
        check(build(saxpy(), "llvm"))
        check(build(saxpy(), "llvm", bounds_check=True))
    assert len(caught) == 1
    assert [n for _, _, files in os.walk(tmp_path) for n in files] == []
