"""README and docs keep up with the code: settings, commands, layout, paths and links.

README is the front door (at most 300 lines, no figures that change with every run);
the references live in docs/ and bench/README.md. These tests hold all of them to the
code: every setting and command is documented, every command and make target README
names exists, the layout names every part of ``monitor/``, and every path and link in
the docs points at something that is there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
DOCS = [REPO / "README.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MAX_README_LINES = 300
_FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", flags=re.MULTILINE | re.DOTALL)
#: README's code: its fenced blocks and inline code spans (which may wrap a line).
CODE = " | ".join([*_FENCED.findall(README), *re.findall(r"`([^`]+)`", _FENCED.sub("", README))])
#: README's sections, in the order a newcomer reads them.
SECTIONS = [
    "## The two commands",
    "## Using it on your search",
    "## Commands",
    "## Configuration",
    "## How it works",
    "## Where to read more",
]


def _commands() -> dict[str, object]:
    """Every `judge-monitor` command and sub-command, by its full name."""
    group = typer.main.get_command(app)
    found: dict[str, object] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found.update({f"{name} {sub}": cmd for sub, cmd in subcommands.items()})
        else:
            found[name] = command
    return found


def _section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    end = README.find("\n## ", start + len(title) + 2)
    return README[start : end if end != -1 else len(README)]


def test_every_setting_is_documented() -> None:
    """Each settings field, and each judge/source/sampling field, is in docs/configuration.md
    (README's Configuration section points there)."""
    reference = (REPO / "docs" / "configuration.md").read_text()
    missing = [
        f"{prefix}{name}"
        for prefix, model in (
            ("", Settings),
            ("judges.", JudgeConfig),
            ("source.", SourceConfig),
            ("sampling.", SamplingConfig),
        )
        for name in model.model_fields
        if f"`{name}`" not in reference
    ]
    assert not missing, f"document these settings in docs/configuration.md: {missing}"
    assert "docs/configuration.md" in _section("## Configuration")


def test_every_command_is_in_the_readme() -> None:
    """Each `judge-monitor` command and sub-command appears in README's command table."""
    table = _section("## Commands")
    missing = [n for n in _commands() if f"`judge-monitor {n}" not in table]
    assert not missing, f"document these commands in README.md's command table: {missing}"


def test_every_command_the_readme_names_runs() -> None:
    """Each `judge-monitor …` README shows is a real command, and its --help runs."""
    commands = _commands()
    groups = {name.split()[0] for name in commands if " " in name}
    named = set()
    for first, second in re.findall(
        r"judge-monitor ([a-z][a-z0-9-]*)(?:\s+([a-z][a-z0-9-]*))?", CODE
    ):
        named.add(f"{first} {second}" if first in groups else first)
    unknown = sorted(named - set(commands))
    assert not unknown, f"README.md names commands that do not exist: {unknown}"
    runner = CliRunner()
    for name in sorted(named):
        result = runner.invoke(app, [*name.split(), "--help"])
        assert result.exit_code == 0, f"judge-monitor {name} --help: {result.output}"


def test_every_make_target_the_readme_names_exists() -> None:
    """Each `make X` in README is a target of the Makefile."""
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", CODE))
    assert {"demo", "test", "data"} <= named
    unknown = sorted(named - targets)
    assert not unknown, f"README.md names make targets the Makefile lacks: {unknown}"


def test_make_demo_installs_only_the_base_package(tmp_path: Path) -> None:
    """`make demo` on a fresh machine installs the package without the test tools (the
    demo's "about three minutes" include the install); `make test` adds them."""
    venv = tmp_path / "venv"  # absent: make lists every step of a fresh machine
    demo = subprocess.run(
        ["make", "-n", "demo", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    installs = [line for line in demo.stdout.splitlines() if "pip install" in line]
    assert any(line.endswith("pip install -q -e .") for line in installs), installs
    assert not any("[dev" in line for line in installs), installs
    test = subprocess.run(
        ["make", "-n", "test", f"VENV={venv}"], cwd=REPO, capture_output=True, text=True
    )
    assert "'.[dev]'" in test.stdout


def test_the_two_commands_come_first() -> None:
    """A newcomer finds `make demo` and `make test` before anything else."""
    assert README.index("make demo") < README.index("## Commands")
    assert README.index("make test") < README.index("## Commands")
    assert README.split("\n## ")[1].startswith("The two commands\n")


def test_the_first_section_says_what_the_real_data_tests_need() -> None:
    """The two commands' section says how to get TREC DL19 and what happens without it."""
    first = _section("## The two commands")
    for needed in ("make data", "JUDGE_MONITOR_TREC_DL19", "data/trec-dl19", "CI=true"):
        assert needed in first, f"README's first section does not mention {needed}"


def test_readme_is_short_and_in_order() -> None:
    """README stays a front door: at most 300 lines, its sections in the reading order."""
    lines = README.count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move detail to docs/"
    positions = [README.find(f"\n{title}\n") for title in SECTIONS]
    assert -1 not in positions, f"README.md lacks a section of {SECTIONS}"
    assert positions == sorted(positions), f"README.md's sections are out of order: {SECTIONS}"


def test_the_layout_names_every_part_of_monitor() -> None:
    """ "How it works" names every package and module of monitor/ (a step found in one guess)."""
    layout = "".join(_FENCED.findall(_section("## How it works")))
    assert "monitor/" in layout, "README.md's How it works has no layout block"
    parts = [
        f"{path.name}/" if path.is_dir() else path.name
        for path in sorted((REPO / "monitor").iterdir())
        if (path.is_dir() and (path / "__init__.py").is_file())
        or (path.suffix == ".py" and path.stem not in ("__init__", "__main__"))
    ]
    assert "pipeline/" in parts
    missing = [part for part in parts if part not in layout]
    assert not missing, f"README.md's How it works does not show: {missing}"


_PATH = re.compile(r"`((?:monitor|flows|bench|docs|deploy|dashboards|migrations)/[^`\s<>*]*)`")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    """Each `monitor/…`, `flows/…`, `bench/…` (and like) path a doc names is in the repository."""
    paths = set(_PATH.findall(doc.read_text()))
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_in_the_docs_resolves(doc: Path) -> None:
    """Each relative link of a doc points at a file that exists, and at a heading it has."""
    broken = []
    for target in _LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(target)
        elif anchor:
            headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.MULTILINE)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)} has broken links: {broken}"
