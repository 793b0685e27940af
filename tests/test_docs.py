"""The README and docs/ agree with the tree and the code: every docs page is linked from the
README, every relative link (and its anchor) resolves, every `relink …` command shown exists
in the CLI with the options it is shown with, and docs/configuration.md's table lists exactly
the settings."""

from __future__ import annotations

import importlib
import re
import shlex
import tomllib
from pathlib import Path

import typer
from typer.core import TyperGroup

from api.ops.settings import OpsSettings
from shared.settings import Settings
from tests.deploy.test_compose import OUTSIDE_SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCUMENTS = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SHELL = {"sh", "bash", "shell", "console"}


def prose(text: str) -> str:
    """The text outside code blocks and code spans: where a link is a link."""
    return re.sub(r"`[^`\n]+`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(line) for line in text.splitlines() if line.startswith("#")}


def relative_links(path: Path) -> list[str]:
    links = LINK.findall(prose(path.read_text()))
    return [link for link in links if not re.match(r"[a-z]+:", link)]


def quick_start_commands() -> list[str]:
    """The shell blocks of the README's Quick start: the embedded default, then the tests."""
    quick_start = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [body.strip() for lang, body in FENCE.findall(quick_start) if lang == "sh"]


def shown_commands(path: Path) -> list[str]:
    """Every `relink …` command in a shell block (one per `&&`, `|`, `;` part, comments
    dropped) or a code span."""
    text = path.read_text()
    parts = [
        part.strip()
        for lang, body in FENCE.findall(text)
        if lang in SHELL
        for line in body.splitlines()
        for part in re.split(r"&&|\|\||\||;", re.sub(r"\s#.*$", "", line))
    ]
    parts += re.findall(r"`([^`\n]+)`", FENCE.sub("", text))
    commands = [re.sub(r"^(\S*/)?relink ", "relink ", part) for part in parts]
    return [command for command in commands if re.match(r"relink [a-z][a-z-]*( |$)", command)]


def relink_cli() -> TyperGroup:
    """The Typer app behind the `relink` console script named in pyproject.toml."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module = importlib.import_module(scripts["relink"].split(":")[0])
    apps = [value for value in vars(module).values() if isinstance(value, typer.Typer)]
    mounted = {id(group.typer_instance) for app in apps for group in app.registered_groups}
    [root] = [app for app in apps if id(app) not in mounted]
    group = typer.main.get_command(root)
    assert isinstance(group, TyperGroup)
    return group


def resolve(group: TyperGroup, command: str) -> str | None:
    """What is wrong with a shown command line, or None when it runs."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    current = group
    for word in (w.strip("[]") for w in words[1:]):
        if isinstance(current, TyperGroup):
            if word not in current.commands:
                return f"{word!r} is no command of {current.name or 'relink'!r}"
            current = current.commands[word]
        elif word.startswith("--"):
            names = {name for p in current.params for name in (*p.opts, *p.secondary_opts)}
            if word.split("=")[0] not in names | {"--help"}:
                return f"{current.name!r} has no option {word!r}"
    return f"{current.name!r} needs a subcommand" if isinstance(current, TyperGroup) else None


def documented_variables() -> set[str]:
    """The variables of docs/configuration.md's table; `A_B_C` / `_D_C` names A_B_C and A_D_C."""
    names: set[str] = set()
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        if match := re.match(r"\| ((?:`_?[A-Z0-9_]+`(?: / )?)+) \|", line):
            first, *others = re.findall(r"`(_?[A-Z0-9_]+)`", match.group(1))
            names.add(first)
            for other in others:
                stem = other.split("_")[1]
                names.add(first[: first.index(f"_{stem}_")] + other)
    return names


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / link.split("#")[0]).resolve() for link in relative_links(README)}
    assert len(PAGES) > 10
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


def test_every_relative_link_resolves_to_a_file_and_its_anchor() -> None:
    broken = []
    for path in DOCUMENTS:
        for link in relative_links(path):
            target, _, anchor = link.partition("#")
            file = (path.parent / target).resolve() if target else path
            if not file.exists():
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file):
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_shows_the_two_set_up_commands() -> None:
    assert quick_start_commands() == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/relink dev",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest",
    ]


def test_every_relink_command_shown_exists_with_its_options() -> None:
    group = relink_cli()
    shown = [(path, command) for path in DOCUMENTS for command in shown_commands(path)]
    assert len(shown) > 40  # the parser still finds the commands
    wrong = [
        f"{path.relative_to(ROOT)}: {command}: {problem}"
        for path, command in shown
        if (problem := resolve(group, command))
    ]
    assert not wrong, "\n".join(wrong)


def test_the_configuration_table_lists_exactly_the_settings() -> None:
    documented = documented_variables()
    fields = {**Settings.model_fields, **OpsSettings.model_fields}
    settings = {name.upper() for name in fields}
    assert not settings - documented, f"not documented: {sorted(settings - documented)}"
    unknown = documented - settings - OUTSIDE_SETTINGS
    assert not unknown, f"documented, but no setting: {sorted(unknown)}"
