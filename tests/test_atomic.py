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


def test_a_temporary_name_never_makes_a_legal_name_illegal(tmp_path):
    # 60 emoji + ".wav" is 244 bytes of UTF-8, a legal name; the temporary name beside it
    # (".<name>.composer-tmp-<pid>-...") once had 290 and failed with ENAMETOOLONG.
    for name in ["😀" * 60 + ".wav", "é" * 125 + ".png", "a" * 250 + ".json", "x." + "y" * 250]:
        assert len(name.encode()) <= 255
        target = tmp_path / name
        with atomic_path(target, suffix=target.suffix) as tmp:
            assert len(tmp.name.encode()) <= 255
            assert tmp.name.startswith(".") and tmp.name.encode()[1:101].decode("utf-8", "ignore") in name
            tmp.write_bytes(b"x")
        assert target.read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["😀" * 60 + ".wav", "é" * 125 + ".png", "a" * 250 + ".json", "x." + "y" * 250])


def test_a_trailing_slash_names_a_folder_not_a_file(tmp_path):
    with pytest.raises(ComposerError, match=r"o\.mid/ ends in a slash, which names a folder"):
        check_writable(f"{tmp_path}/o.mid/", force=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code, words", [
    (28, "no space left on the device holding "),   # ENOSPC
    (122, "no space left on the device holding "),  # EDQUOT
    (13, "cannot write "),                          # EACCES: said as it is
])
def test_failed_writes_are_one_line_naming_the_cause(tmp_path, code, words):
    import os
    target = tmp_path / "x.wav"
    with pytest.raises(ComposerError) as err:
        with atomic_path(target) as tmp:
            raise OSError(code, os.strerror(code))
    text = str(err.value)
    assert words in text and "\n" not in text and text.endswith(
        "while writing " + str(target) + "; nothing was written there" if code != 13 else "Permission denied")
    assert list(tmp_path.iterdir()) == []


def test_a_bug_while_writing_is_not_disguised(tmp_path):
    # Only a write failure is translated: an error of the program itself keeps its type.
    with pytest.raises(ZeroDivisionError):
        with atomic_path(tmp_path / "x.wav") as tmp:
            1 / 0
    assert list(tmp_path.iterdir()) == []


def test_a_write_cut_at_the_file_size_limit_is_not_renamed_into_place(tmp_path):
    # libsndfile can lose a failed write and report nothing: a temporary file that has
    # reached RLIMIT_FSIZE is not whole, whatever the writer said.  (In a subprocess: the
    # limit would apply to pytest too.)
    import subprocess
    import sys
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
            "from composer.errors import ComposerError\n"
            "from composer.io.atomic import atomic_path\n"
            "try:\n"
            "    with atomic_path(sys.argv[1]) as tmp:\n"
            "        with open(tmp, 'wb') as f:\n"
            "            try:\n"
            "                f.write(b'x' * 1000); f.flush()\n"
            "            except OSError:\n"
            "                pass  # what a careless library does\n"
            "except ComposerError as err:\n"
            "    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.bin")], capture_output=True, text=True)
    assert done.stdout.strip() == (f"the file-size limit (ulimit -f, 100 bytes) was reached while writing "
                                   f"{tmp_path / 'x.bin'}; nothing was written there"), done.stderr
    assert list(tmp_path.iterdir()) == []


def test_all_or_nothing_removes_what_a_failed_command_wrote(tmp_path):
    from composer.io.atomic import all_or_nothing
    kept = tmp_path / "before.mid"
    kept.write_bytes(b"older, not this command's")
    with pytest.raises(ComposerError):
        with all_or_nothing() as written:
            (tmp_path / "stems").mkdir()
            written.append(tmp_path / "stems")
            for name in ("mix.wav", "stems/00_Melody.wav"):
                (tmp_path / name).write_bytes(b"x")
                written.append(tmp_path / name)
            raise ComposerError("no space left on the device holding stems while writing 01_Piano.wav")
    assert [p.name for p in tmp_path.iterdir()] == ["before.mid"]
