"""``latentdeck new-plugin NAME --kind KIND [--dir DIR]``: a new plugin package whose tests pass as written.

It writes ``DIR/latentdeck-NAME/`` (``DIR`` defaults to the current folder)::

    pyproject.toml                    the distribution, with the entry point in group latentdeck.plugins
    README.md                         what it provides, how to run its tests and try it in the lab
    src/latentdeck_NAME/__init__.py
    src/latentdeck_NAME/plugin.py     the hook of KIND with a minimal real implementation
    tests/test_plugin.py              tests through latentdeck.testing's public helpers (no install needed)

Kinds: ``artifact`` (a per-epoch generator writing a JSON file into the plugin's own run folder),
``projection`` (a seeded random linear map of the latents), ``computation`` (an on-demand computation: a
held-out digit's latent code at an epoch), ``dataset`` (seeded synthetic digits, nothing to download) and
``executor`` (each job of a run as a process of this machine). The templates live beside this module
(``templates/<kind>_plugin.py.tmpl``, ``templates/<kind>_test.py.tmpl`` and the shared files, all ``.tmpl`` so
that no tool takes them for the host's modules or tests); ``__NAME__`` in
them becomes NAME. Bad input (a NAME that is not a Python identifier, a folder that exists, an unknown
kind) is refused with exit 2 and a message naming the fix; nothing is written then.
"""

from __future__ import annotations

import argparse
import keyword
import os
import sys
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
KINDS = {  # kind -> (the hook it implements, what the plugin provides)
    "artifact": ("register_artifacts", "a per-epoch artifact: latent statistics of the visualization subset"),
    "projection": ("register_projections", "a projection: a seeded random linear map of the latents"),
    "computation": ("register_ondemand", "an on-demand computation: a held-out digit's latent code at an epoch"),
    "dataset": ("register_datasets", "a dataset: seeded synthetic digits (nothing to download)"),
    "executor": ("register_executors", "an executor: each job of a run as a process of this machine"),
}
SHARED = {"pyproject.toml": "pyproject.toml.tmpl", "README.md": "README.md.tmpl",
          "src/__PACKAGE__/__init__.py": "__init__.py.tmpl"}
EXIT_USAGE = 2


class ScaffoldError(ValueError):
    """Bad input for the scaffold; the message names the problem and the fix."""


def name_problem(name: str) -> str | None:
    if not name.isidentifier() or keyword.iskeyword(name) or not name.isascii():
        return (f"{name!r} is not a Python identifier: use lower-case letters, digits and underscores, starting "
                "with a letter (e.g. my_stats); it names the package latentdeck_<NAME> and the component")
    if name != name.lower() or name.startswith("_"):
        return f"{name!r}: use lower case without a leading underscore (e.g. {name.lower().lstrip('_') or 'my_stats'})"
    return None


def scaffold(name: str, kind: str, parent: Path | str = ".") -> Path:
    """Write the package ``parent/latentdeck-<name>`` for ``kind``; returns its folder."""
    problem = name_problem(name)
    if problem:
        raise ScaffoldError(problem)
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: use one of {', '.join(KINDS)} (--kind artifact)")
    target = Path(parent) / f"latentdeck-{name}"
    if target.exists() or target.is_symlink():
        raise ScaffoldError(f"{target} already exists: choose another NAME, another --dir, or remove that folder")
    hook, provides = KINDS[kind]
    files = {**SHARED, "src/__PACKAGE__/plugin.py": f"{kind}_plugin.py.tmpl",
             "tests/test_plugin.py": f"{kind}_test.py.tmpl"}
    # the package name is made here, never written in a template: the host's text names no plugin package
    words = {"__PACKAGE__": f"latentdeck_{name}", "__NAME__": name, "__DIST__": name.replace("_", "-"), "__KIND__": kind,
             "__HOOK__": hook, "__PROVIDES__": provides}
    texts = {}
    for relative, template in files.items():  # read every template first: nothing is written on a problem
        text = (TEMPLATES / template).read_text()
        for key, value in words.items():
            text = text.replace(key, value)
        texts[relative.replace("__PACKAGE__", words["__PACKAGE__"])] = text
    target.mkdir(parents=True)
    for relative, text in texts.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


def cmd_new_plugin(args: argparse.Namespace) -> int:
    try:
        target = scaffold(args.name, args.kind, args.dir)
    except ScaffoldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    here = os.path.relpath(target)
    print(f"wrote {here}: {KINDS[args.kind][1]}")
    print(f"  cd {here} && python -m pytest -q        # its tests pass as written")
    print("  pip install -e .                          # then restart the lab: it loads the plugin")
    return 0


class _Kind(argparse.Action):
    """``--kind`` with the fix in the message (argparse's own ``choices`` message names no example)."""

    def __call__(self, parser, namespace, value, option_string=None):
        if value not in KINDS:
            parser.exit(EXIT_USAGE, f"error: unknown kind {value!r} for --kind: use one of {', '.join(KINDS)}\n")
        setattr(namespace, self.dest, value)


def add_new_plugin_command(sub) -> None:
    new = sub.add_parser("new-plugin", help="write a new plugin package (with tests that pass) to start from")
    new.add_argument("name", metavar="NAME", help="a Python identifier: the package is latentdeck_NAME")
    new.add_argument("--kind", required=True, action=_Kind, metavar="|".join(KINDS), help="what the plugin provides")
    new.add_argument("--dir", default=".", help="where to write latentdeck-NAME/ (default: the current folder)")
    new.set_defaults(func=cmd_new_plugin)
