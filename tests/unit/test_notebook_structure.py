"""Every notebook has what a learner relies on: objectives, an exercise with a self-check and a hidden
solution, key points, and links to its neighbours that lead somewhere."""

import json
import re
from pathlib import Path

import pytest

import pushpull_lab as ppl

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FILES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
LINK = re.compile(r"\]\(([0-9][0-9]_[A-Za-z0-9_]+\.ipynb)\)")
CHECK = re.compile(r"ppl\.exercises\.check\(\s*[\"']([^\"']+)[\"']")


def _cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        cell["text"] = "".join(cell["source"])
    return cells


def _markdown(path: Path) -> str:
    return "\n".join(c["text"] for c in _cells(path) if c["cell_type"] == "markdown")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_opens_with_objectives_and_ends_with_key_points(path):
    """What you'll do / learn / need near the top; a Key points section."""
    first = _cells(path)[0]["text"]
    for heading in ("**What you'll do**", "**What you'll learn**", "**What you need"):
        assert heading in first, f"{path.name}: the first cell has no {heading}"
    assert re.search(r"^## Key points", _markdown(path), re.M), f"{path.name}: no '## Key points' section"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_has_a_self_checked_exercise_and_a_hidden_solution(path):
    """At least one ppl.exercises.check of this notebook's own, registered; a %load of an existing solution."""
    code = "\n".join(c["text"] for c in _cells(path) if c["cell_type"] == "code")
    ids = CHECK.findall(code)
    number = path.name[:2]
    assert ids, f"{path.name}: no ppl.exercises.check(...) cell"
    known = ppl.exercises.available()
    for exercise in ids:
        assert exercise.startswith(f"{number}."), (
            f"{path.name}: exercise {exercise!r} is not numbered {number}"
        )
        assert exercise in known, f"{path.name}: exercise {exercise!r} has no check"
    solution = f"solutions/{path.stem}.py"
    assert f"# %load {solution}" in code, f"{path.name}: no '# %load {solution}' cell"
    assert (NOTEBOOKS / solution).is_file(), f"{path.name}: {solution} does not exist"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_last_cell_links_to_the_neighbours_and_no_link_dangles(path):
    """The last cell says Next (and Back) to the neighbouring notebooks; every notebook link resolves."""
    index = FILES.index(path)
    last = _cells(path)[-1]["text"]
    if index + 1 < len(FILES):
        assert "**Next:** [" in last and f"]({FILES[index + 1].name})" in last, (
            f"{path.name}: the last cell does not link Next to {FILES[index + 1].name}"
        )
    if index > 0:
        assert "**Back:** [" in last and f"]({FILES[index - 1].name})" in last, (
            f"{path.name}: the last cell does not link Back to {FILES[index - 1].name}"
        )
    dangling = sorted({link for link in LINK.findall(_markdown(path)) if not (NOTEBOOKS / link).is_file()})
    assert not dangling, f"{path.name}: links to notebooks that do not exist: {dangling}"


def test_welcome_links_every_notebook():
    """00_welcome's map links each numbered notebook."""
    linked = set(LINK.findall(_markdown(FILES[0])))
    missing = [p.name for p in FILES[1:] if p.name not in linked]
    assert not missing, f"00_welcome.ipynb does not link {missing}"
