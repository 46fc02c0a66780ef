import pytest

from composer.errors import ComposerError
from composer.io.atomic import atomic_path, check_writable


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("hello")
        assert not target.exists()
    assert target.read_text() == "hello"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_check_writable(tmp_path):
    existing = tmp_path / "a.mid"
    existing.write_bytes(b"x")
    with pytest.raises(ComposerError, match="--force"):
        check_writable(existing, force=False)
    assert check_writable(existing, force=True) == existing
    with pytest.raises(ComposerError, match="does not exist"):
        check_writable(tmp_path / "nope" / "b.mid", force=False)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    from composer.io.atomic import atomic_path
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "out.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644
