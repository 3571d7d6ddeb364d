"""Files: whole or not at all, the user's umask, an existing file's mode, symbolic links, folders."""

import errno
import os
import signal
import stat
import subprocess
import sys
import threading

import pytest

from symbackprop import cli
from symbackprop.files import current_umask, write_file


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process's umask for one test, and put the old one back."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002, 0o027])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    write_file(tmp_path / "new.txt", "text")
    reference = tmp_path / "reference.txt"
    reference.touch()  # what any program gets: 0666 less the umask
    assert mode(tmp_path / "new.txt") == mode(reference) == 0o666 & ~mask


def test_the_command_line_writes_with_the_umask(tmp_path, umask, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    umask(0o022)
    assert cli.main(["codegen", "--layers", "2,1", "-o", "grads.py"]) == 0
    assert mode(tmp_path / "grads.py") == 0o644


@pytest.mark.parametrize("existing", [0o644, 0o600, 0o640, 0o755])
def test_force_keeps_the_mode_of_the_file_it_replaces(tmp_path, umask, existing):
    umask(0o022)
    path = tmp_path / "out.txt"
    path.write_text("old")
    path.chmod(existing)
    write_file(path, "new", force=True)
    assert path.read_text() == "new" and mode(path) == existing


def test_an_existing_file_or_link_is_refused_without_force(tmp_path):
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "target.txt").write_text("target")
    (tmp_path / "link.txt").symlink_to(tmp_path / "target.txt")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    for name in ("file.txt", "link.txt", "dangling.txt"):
        with pytest.raises(FileExistsError, match="already exists.*force"):
            write_file(tmp_path / name, "new")
    assert (tmp_path / "file.txt").read_text() == "mine" and (tmp_path / "target.txt").read_text() == "target"
    assert not (tmp_path / "nowhere.txt").exists() and (tmp_path / "dangling.txt").is_symlink()


def test_force_on_a_link_replaces_the_file_it_points_to_and_keeps_the_link(tmp_path, umask):
    umask(0o022)
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "grads.py"
    target.write_text("old")
    target.chmod(0o664)
    link = tmp_path / "grads.py"
    link.symlink_to(target)
    write_file(link, "new", force=True)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new" and mode(target) == 0o664
    assert sorted(p.name for p in shared.iterdir()) == ["grads.py"]  # no temporary file left behind


def test_force_on_a_dangling_link_creates_the_file_it_points_to(tmp_path, umask):
    umask(0o022)
    link = tmp_path / "out.txt"
    link.symlink_to(tmp_path / "made.txt")
    write_file(link, "new", force=True)
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "new" and mode(tmp_path / "made.txt") == 0o644


def test_a_link_into_a_missing_folder_is_refused(tmp_path):
    link = tmp_path / "out.txt"
    link.symlink_to(tmp_path / "no" / "such" / "file.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_file(link, "new", force=True)


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_is_never_a_destination(tmp_path, force):
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        write_file(tmp_path / "folder", "text", force=force)
    assert list((tmp_path / "folder").iterdir()) == []


def test_the_command_line_reports_file_problems_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    assert cli.main(["codegen", "--layers", "2,1", "-o", "out"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symbackprop: error: out is a folder") and err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_without_write_permission_is_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert cli.main(["codegen", "--layers", "2,1", "-o", "locked/grads.py"]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert err == "symbackprop: error: cannot write locked/grads.py: permission denied (in the folder locked)\n"


def _no_write_permission(*args, **kwargs):
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), kwargs.get("dir"))


VALUES = '{"x1": 0.5, "x2": 0.1, "y1": 1, "w1": 0.1, "w2": 0.2, "b1": 0}'


@pytest.mark.parametrize("argv, target", [
    (["codegen", "--layers", "2,1", "-o", "out/grads.py"], "out/grads.py"),
    (["walkthrough", "--layers", "2,1", "--values", "v.json", "-o", "out/w.md"], "out/w.md"),
    (["graph", "--layers", "2,1", "--values", "v.json", "-o", "out/g.dot"], "out/g.dot"),
    (["demo", "--out", "out"], "out/derivation.tex"),
])
def test_an_unwritable_folder_names_the_file_asked_for_before_any_output(tmp_path, monkeypatch, capsys, argv, target):
    """Whoever runs the tests (root writes anywhere), a folder that refuses new files is one line
    naming the file asked for (never the hidden temporary one), and nothing is printed before it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "v.json").write_text(VALUES)
    monkeypatch.setattr("symbackprop.files.tempfile.mkstemp", _no_write_permission)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"symbackprop: error: cannot write {target}: permission denied (in the folder out)\n"


def test_a_folder_that_cannot_be_created_is_one_line_before_any_output(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("pathlib.Path.mkdir", _no_write_permission)
    assert cli.main(["demo", "--out", "new"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "symbackprop: error: cannot create the folder new: permission denied\n"


def test_unchanged_content_is_not_rewritten(tmp_path):
    path = write_file(tmp_path / "a.txt", "same")
    before = os.stat(path).st_ino
    write_file(path, "same", unchanged_ok=True)
    assert os.stat(path).st_ino == before


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
@pytest.mark.parametrize("link", [False, True])
def test_a_fifo_is_never_replaced_even_with_force(tmp_path, link):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    destination = fifo
    if link:
        destination = tmp_path / "link"
        destination.symlink_to(fifo)
    for force in (False, True):
        with pytest.raises(OSError, match="is not a regular file \\(a FIFO\\); symbackprop writes regular files only"):
            write_file(destination, "text", force=force)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_name_ending_with_a_separator_names_a_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(IsADirectoryError, match="names a folder"):
        write_file("new/", "text")
    assert cli.main(["codegen", "--layers", "2,2,1", "-o", "new/"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "names a folder" in err
    assert list(tmp_path.iterdir()) == []


def race(path, contents) -> list:
    """Two threads released together write ``contents[0]`` and ``contents[1]`` to ``path``
    without force; what each got: "wrote" or "refused"."""
    barrier = threading.Barrier(2)
    outcome = [None, None]

    def writer(i):
        barrier.wait()
        try:
            write_file(path, contents[i])
            outcome[i] = "wrote"
        except FileExistsError:
            outcome[i] = "refused"

    threads = [threading.Thread(target=writer, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def test_two_writers_racing_for_a_new_file_never_both_succeed(tmp_path):
    """Without force a write is exclusive: of two writers released together, exactly one wins,
    the other gets FileExistsError, and the file holds the winner's whole content."""
    contents = ["a" * 200_000, "b" * 200_000]
    for trial in range(150):
        path = tmp_path / f"race{trial}.txt"
        outcome = race(path, contents)
        assert sorted(outcome) == ["refused", "wrote"], (trial, outcome)
        assert path.read_text() == contents[outcome.index("wrote")]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".partial")]


def test_a_file_that_appears_during_a_write_is_not_replaced(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    real_chmod = os.chmod

    def chmod_then_someone_else_writes(name, mode):
        real_chmod(name, mode)
        path.write_text("theirs")  # appears after the existence check, before publishing

    monkeypatch.setattr(os, "chmod", chmod_then_someone_else_writes)
    with pytest.raises(FileExistsError, match="already exists; pass force"):
        write_file(path, "ours")
    assert path.read_text() == "theirs" and os.listdir(tmp_path) == ["out.txt"]


def test_no_hard_links_is_a_clear_error_and_force_still_writes(tmp_path, monkeypatch):
    def no_links(source, destination):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with pytest.raises(OSError, match="has no hard links.*pass force"):
        write_file(tmp_path / "out.txt", "text")
    assert os.listdir(tmp_path) == []
    write_file(tmp_path / "out.txt", "text", force=True)
    assert (tmp_path / "out.txt").read_text() == "text"


SLOW_WRITE = """
import os, sys, time
from symbackprop import cli

real_chmod = os.chmod

def chmod_then_wait(name, mode):  # the temporary file is written: now stay in the middle of the write
    real_chmod(name, mode)
    if str(name).endswith(".partial"):
        print("writing", flush=True)
        time.sleep(60)

os.chmod = chmod_then_wait
sys.exit(cli.main(["codegen", "--layers", "2,1", "-o", sys.argv[1]]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="SIGTERM is POSIX")
def test_sigterm_in_the_middle_of_a_write_leaves_no_temporary_file(tmp_path):
    script = tmp_path / "slow_write.py"
    script.write_text(SLOW_WRITE)
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen([sys.executable, str(script), str(out / "grads.py")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "writing\n"
        assert [name for name in os.listdir(out) if name.endswith(".partial")]  # the write is under way
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 143
    assert stderr == "symbackprop: terminated\n"
    assert os.listdir(out) == []


def test_the_sigterm_handler_is_put_back_after_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["codegen", "--layers", "2,1", "-o", "grads.py"]) == 0
    assert signal.getsignal(signal.SIGTERM) == before


@pytest.mark.parametrize("name", ["out.py/.", "out.py/..", "sub/.", "."])
def test_a_name_whose_last_part_is_a_dot_names_a_folder_even_with_force(tmp_path, monkeypatch, capsys, name):
    """Path("out.py/.") is Path("out.py"): without this rule --force would overwrite the file out.py."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.py").write_text("mine")
    (tmp_path / "sub").mkdir()
    assert cli.main(["codegen", "--layers", "2,1", "-o", name, "--force"]) == 2
    assert "so it names a folder" in capsys.readouterr().err
    assert (tmp_path / "out.py").read_text() == "mine"
