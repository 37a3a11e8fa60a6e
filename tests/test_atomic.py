"""The Python side's one atomic write (`localforge._atomic.write_atomic`): the new content
all at once, or the old content and no temporary file left behind."""

import os
import stat

import pytest

from localforge import _atomic
from localforge._atomic import write_atomic


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_writes_text_and_bytes_with_the_mode_asked_kept_or_as_open_would(tmp_path, umask_022):
    new = tmp_path / "new.txt"
    write_atomic(new, "héllo\n")
    assert new.read_bytes() == "héllo\n".encode() and mode(new) == 0o644, "a new file: 0666 less the umask"
    new.chmod(0o640)
    write_atomic(new, b"second\n")
    assert new.read_bytes() == b"second\n" and mode(new) == 0o640, "the file it replaces keeps its mode"
    write_atomic(str(new), b"third\n", mode=0o750)
    assert new.read_bytes() == b"third\n" and mode(new) == 0o750, "an explicit mode, exactly"
    private = tmp_path / "private.json"
    os.umask(0)
    write_atomic(private, "{}", mode=0o600)
    assert mode(private) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.txt", "private.json"], "no temporary file is left"


@pytest.mark.parametrize("fail_at", ["fchmod", "fsync", "replace"])
def test_a_failure_leaves_the_old_content_and_no_temporary_file(tmp_path, monkeypatch, fail_at):
    target = tmp_path / "state.json"
    target.write_text("old\n")
    target.chmod(0o604)

    def boom(*args):
        raise KeyboardInterrupt if fail_at == "fsync" else OSError(28, "No space left on device")

    monkeypatch.setattr(_atomic.os, fail_at, boom)
    with pytest.raises(KeyboardInterrupt if fail_at == "fsync" else OSError):
        write_atomic(target, "new\n")
    monkeypatch.undo()
    assert target.read_text() == "old\n" and mode(target) == 0o604
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "the temporary file is removed"


def test_a_folder_in_the_way_is_refused_and_nothing_is_left(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path / "taken", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"] and not list((tmp_path / "taken").iterdir())
