"""The code's migration revisions, read without Alembic, are the ones Alembic reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from conduit.storage.revisions import RevisionError, migrations_dir, read_scripts


def test_the_same_head_and_revisions_as_alembic() -> None:
    alembic = ScriptDirectory(str(migrations_dir()))
    scripts = read_scripts(migrations_dir() / "versions")
    assert scripts.head == alembic.get_current_head()
    assert scripts.known == {script.revision for script in alembic.walk_revisions()}
    assert len(scripts.known) >= 5


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def test_chains_merges_and_the_files_alembic_skips(tmp_path: Path) -> None:
    write(tmp_path, "a.py", 'revision: str = "a"\ndown_revision: str | None = None\n')
    write(tmp_path, "b.py", 'revision = "b"\ndown_revision = "a"\n')
    write(tmp_path, "c.py", 'revision = "c"\ndown_revision = "a"\n')
    write(tmp_path, "d.py", 'revision = "d"\ndown_revision = ("b", "c")\n')
    write(tmp_path, "__init__.py", 'revision = "init"\n')
    write(tmp_path, ".#d.py", 'revision = "lock"\n')
    write(tmp_path, "notes.txt", 'revision = "txt"\n')
    scripts = read_scripts(tmp_path)
    assert scripts.head == "d"
    assert scripts.known == {"a", "b", "c", "d"}
    assert ScriptDirectory(str(tmp_path.parent), version_locations=[str(tmp_path)]).get_current_head() == "d"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {
                "a.py": 'revision = "a"\ndown_revision = None\n',
                "b.py": 'revision = "b"\ndown_revision = None\n',
            },
            "several heads",
        ),
        ({"b.py": 'revision = "b"\ndown_revision = "a"\n'}, "without a script"),
        ({"a.py": 'revision = "a"\n', "a2.py": 'revision = "a"\n'}, "in two scripts"),
        ({"a.py": "revision = 7\n"}, "must be a string"),
        ({"a.py": 'revision = "a"\n', "helpers.py": "VALUE = 1\n"}, "names no revision"),
    ],
)
def test_scripts_that_are_not_one_chain_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    with pytest.raises(RevisionError, match=message):
        read_scripts(tmp_path)


def test_no_scripts_no_head(tmp_path: Path) -> None:
    assert read_scripts(tmp_path).head is None


PROBE = """
import sys
from conduit.observability.health import code_revisions
head, known = code_revisions()
print(head in known, sorted({name.split(".")[0] for name in sys.modules} & {"alembic", "mako"}))
"""


def test_the_readiness_check_imports_no_alembic() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True []"
