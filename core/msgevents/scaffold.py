"""``msgevents new-provider NAME``: write the skeleton of a provider plugin.

The templates are package data (``msgevents/templates/provider/*.tmpl``), filled
with :class:`string.Template` (``${name}``, ``${package}``, ``${cls}``…). The
result is a plugin that works as is on its own documented sample format (a JSON
Lines webhook dump), is ruff clean under the repository's configuration and
passes the shipped contract suite; ``ADAPT`` comments mark every place the
author changes for the real provider API.

Two layouts:

- *workspace* (the default; ``root`` is the msgevents repository):
  ``plugins/NAME/`` (the distribution ``msgevents-NAME``),
  ``examples/NAME/sample.jsonl`` and ``tests/plugins/NAME/test_PACKAGE.py``;
- *standalone* (``--directory DIR``): one project ``DIR/NAME/`` holding the
  distribution with its own ``examples/sample.jsonl`` and ``tests/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from msgevents.errors import ConfigError

__all__ = ["MAX_NAME_LENGTH", "Layout", "ProviderNames", "provider_names", "write_provider"]

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
#: Longer names would push generated lines past the line length.
MAX_NAME_LENGTH = 32

#: (template, path inside the plugin distribution)
_PLUGIN_FILES = (
    ("pyproject.toml.tmpl", "pyproject.toml"),
    ("README.md.tmpl", "README.md"),
    ("__init__.py.tmpl", "{package}/__init__.py"),
    ("settings.py.tmpl", "{package}/settings.py"),
    ("provider.py.tmpl", "{package}/provider.py"),
    ("mapping.py.tmpl", "{package}/mapping.py"),
)


@dataclass(frozen=True)
class ProviderNames:
    """Every name derived from the provider name ``acme-mail``."""

    name: str  # acme-mail: entry point, --provider, settings_config("acme-mail")
    package: str  # msgevents_acme_mail
    dist: str  # msgevents-acme-mail
    cls: str  # AcmeMail: prefix of the class names
    title: str  # Acme Mail: the provider's human title, to be adapted
    env_prefix: str  # MSGEVENTS_ACME_MAIL_


def provider_names(name: str) -> ProviderNames:
    """The names of provider ``name``; :class:`ConfigError` when ``name`` is not a valid one."""
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"invalid provider name {name!r}: use lower-case letters, digits and single dashes, "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. acme or acme-mail)"
        )
    parts = name.split("-")
    return ProviderNames(
        name=name,
        package="msgevents_" + "_".join(parts),
        dist="msgevents-" + name,
        cls="".join(part.capitalize() for part in parts),
        title=" ".join(part.capitalize() for part in parts),
        env_prefix="MSGEVENTS_" + "_".join(parts).upper() + "_",
    )


@dataclass(frozen=True)
class Layout:
    """Where the files of one provider go, and how the generated text refers to them."""

    names: ProviderNames
    root: Path
    standalone: bool = False

    @property
    def project(self) -> Path:
        """The plugin distribution (``pyproject.toml``, README, the package)."""
        if self.standalone:
            return self.root / self.names.name
        return self.root / "plugins" / self.names.name

    @property
    def examples(self) -> Path:
        if self.standalone:
            return self.project / "examples"
        return self.root / "examples" / self.names.name

    @property
    def tests(self) -> Path:
        if self.standalone:
            return self.project / "tests"
        return self.root / "tests" / "plugins" / self.names.name

    @property
    def base(self) -> Path:
        """The folder the commands of the README and of the next steps run in."""
        return self.project if self.standalone else self.root

    def files(self) -> list[tuple[str, Path]]:
        """(template, destination) of every generated file."""
        package = self.names.package
        files = [(tmpl, self.project / dest.format(package=package)) for tmpl, dest in _PLUGIN_FILES]
        files.append(("sample.jsonl.tmpl", self.examples / "sample.jsonl"))
        files.append(("test_provider.py.tmpl", self.tests / f"test_{package.removeprefix('msgevents_')}.py"))
        return files

    def existing(self) -> list[Path]:
        """The generated folders that already exist."""
        return [path for path in (self.project, self.examples, self.tests) if path.exists()]

    def relative(self, path: Path) -> str:
        return path.relative_to(self.base).as_posix() or "."

    def commands(self) -> list[str]:
        """Install, run on the sample, test: the first commands in the new plugin."""
        project = self.relative(self.project)
        install = (
            "pip install -e path/to/msgevents/core -e ."
            if self.standalone
            else f"pip install -e core -e {project}"
        )
        return [
            install,
            f"msgevents collect --provider {self.names.name} "
            f"--input {self.relative(self.examples / 'sample.jsonl')} --to jsonl:-",
            f"pytest {self.relative(self.tests)}",
        ]

    def placeholders(self) -> dict[str, str]:
        names = self.names
        install, collect, test = self.commands()
        if self.standalone:
            parents, sample = "1", '"sample.jsonl"'
            core_link = "msgevents"
        else:
            parents, sample = "3", f'"{names.name}" / "sample.jsonl"'
            core_link = "[msgevents](../../README.md)"
        return {
            "name": names.name,
            "package": names.package,
            "dist": names.dist,
            "cls": names.cls,
            "title": names.title,
            "env_prefix": names.env_prefix,
            "project_path": self.relative(self.project),
            "sample_path": self.relative(self.examples / "sample.jsonl"),
            "tests_path": self.relative(self.tests),
            "install_command": install,
            "collect_command": collect,
            "test_command": test,
            "core_link": core_link,
            "examples_parents": parents,
            "sample_in_examples": sample,
        }


def _template(name: str) -> Template:
    source = resources.files("msgevents").joinpath("templates", "provider", name)
    return Template(source.read_text(encoding="utf-8"))


def write_provider(name: str, root: Path, *, standalone: bool = False, force: bool = False) -> list[Path]:
    """Write the skeleton of provider ``name`` under ``root``; return the files written.

    ``root`` is the msgevents repository (workspace layout) or, with
    ``standalone``, the folder that receives the project ``NAME/``. Existing
    folders are refused unless ``force``, which overwrites the generated files
    and leaves any other file alone. Raises :class:`ConfigError` for an invalid
    name, existing folders or a file that cannot be written.
    """
    layout = Layout(provider_names(name), Path(root), standalone)
    existing = layout.existing()
    if existing and not force:
        shown = ", ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise ConfigError(f"{shown} already {verb}; use --force to overwrite the generated files")
    values = layout.placeholders()
    written = []
    for template, destination in layout.files():
        text = _template(template).substitute(values)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write {destination}: {exc.strerror or exc}") from None
        written.append(destination)
    return written
