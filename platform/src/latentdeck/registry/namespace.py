"""The artifact namespace: which folders of a run hold artifacts, and which names are safe.

A run folder holds the host's own files (``config.json``, ``summary.json``, ``events.jsonl``,
``checkpoints/``, ``projections/``) and one folder per artifact type, declared by the plugin that
writes it (``ArtifactSpec.folder``). Names are relative, ``/``-separated, made of
``[A-Za-z0-9_.-]`` parts that are not ``.``, ``..`` or hidden, at most 255 characters a part and 1024
in all. Nothing here touches the disk.
"""

from __future__ import annotations

import functools
import re

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
MAX_NAME = 1024  # characters in an artifact name
MAX_PART = 255
# Top-level entries a client may read; worker bookkeeping and temp files stay private.
READABLE_TOP = ("config.json", "summary.json", "events.jsonl")
# Folders the host itself writes: checkpoints (training) and projections (the projection engine).
HOST_FOLDERS = {"checkpoints": "latentdeck (training)", "projections": "latentdeck (projections)"}
# Names of the run folder's own files, which no artifact folder may take.
RESERVED_TOP = frozenset(READABLE_TOP) | {"worker.json", "worker.log", "cancel_requested", "backfill.lock"}


class ArtifactNameError(ValueError):
    """A folder or file name an artifact writer refuses (escapes its folder, undeclared, malformed)."""


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe relative artifact name, or None when it is."""
    if not isinstance(name, str) or not name:
        return "it is empty or not a string"
    if len(name) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    if not NAME_RE.match(name):
        return "it must be relative, '/'-separated, made of letters, digits, '_', '.' and '-'"
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("."):
            return f"its part {part!r} is '.', '..' or hidden"
        if len(part) > MAX_PART:
            return f"a part is longer than {MAX_PART} characters"
    return None


def folder_problem(folder: object) -> str | None:
    """Why ``folder`` cannot be an artifact folder (a plain top-level name), or None."""
    problem = name_problem(folder)
    if problem:
        return problem
    folder = str(folder)
    if "/" in folder:
        return "an artifact folder is one top-level name (put sub-folders in the file patterns)"
    if folder in RESERVED_TOP:
        return f"{folder!r} is one of the run's own files"
    return None


def check_write(folder: str, filename: str, allowed: frozenset[str] | None) -> str:
    """``<folder>/<filename>`` when a writer may write it, else :class:`ArtifactNameError` naming the
    problem. ``allowed`` holds the writer's declared folders (None: any folder the host does not own)."""
    problem = folder_problem(folder)
    if problem is None and allowed is not None and folder not in allowed:
        problem = (f"it is not a folder this writer declared ({', '.join(sorted(allowed)) or 'none'}); "
                   "declare it in the spec's folder")
    if problem is None and allowed is None and folder in HOST_FOLDERS:
        problem = f"{folder!r} belongs to the host"
    if problem:
        raise ArtifactNameError(f"cannot write into folder {folder!r:.80}: {problem}")
    name = f"{folder}/{filename}"
    problem = name_problem(filename if isinstance(filename, str) else None) or name_problem(name)
    if problem:
        raise ArtifactNameError(f"cannot write {name!r:.120}: {problem}")
    return name


# --- file-name patterns ----------------------------------------------------------------------------
# A spec declares the files it writes inside its folder as patterns: ``{tag}`` (epoch_<N> | latest),
# ``{name}`` (one name part, shortest match) and ``{name:int}`` (a whole number). Sub-folders are
# allowed; every part must stay inside the folder.

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(int))?\}")
TAG_RE = r"(?:epoch_(?P<epoch>\d+)|(?P<latest>latest))"


def pattern_problem(pattern: object) -> str | None:
    """Why ``pattern`` cannot be a file pattern (it escapes its folder, repeats a field ...), or None."""
    if not isinstance(pattern, str) or not pattern:
        return "a file pattern must be a non-empty string"
    names = [m.group(1) for m in PLACEHOLDER.finditer(pattern)]
    if len(names) != len(set(names)):
        return f"pattern {pattern!r} repeats a placeholder"
    if "epoch" in names and "tag" in names:
        return f"pattern {pattern!r} has both {{tag}} and {{epoch}}"
    literal = PLACEHOLDER.sub("x", pattern)
    if "{" in literal or "}" in literal:
        return f"pattern {pattern!r} has a brace that is not a {{name}} or {{name:int}} placeholder"
    problem = name_problem(literal)
    if problem:
        return f"pattern {pattern!r} escapes or breaks its folder: {problem}"
    return None


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    out, last = [], 0
    for m in PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[last:m.start()]))
        name, typ = m.group(1), m.group(2)
        if name == "tag":
            out.append(TAG_RE)
        elif name == "epoch" or typ == "int":
            out.append(rf"(?P<{name}>\d+)")
        else:
            out.append(rf"(?P<{name}>[A-Za-z0-9_.-]+?)")
        last = m.end()
    out.append(re.escape(pattern[last:]))
    return re.compile("^" + "".join(out) + "$")


def placeholders(pattern: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(pattern) if m.group(1) != "tag"]


def match_file(patterns: tuple[str, ...], relname: str) -> tuple[str, dict[str, object]] | None:
    """(the first pattern ``relname`` matches, its fields) or None. Fields: ``epoch`` (int, or None for
    a ``latest`` mirror) plus every placeholder (ints for ``{name:int}``)."""
    for pattern in patterns:
        found = compile_pattern(pattern).match(relname)
        if not found:
            continue
        fields: dict[str, object] = {}
        for m in PLACEHOLDER.finditer(pattern):
            name, typ = m.group(1), m.group(2)
            if name == "tag":
                fields["epoch"] = int(found["epoch"]) if found["epoch"] else None
            else:
                value = found[name]
                fields[name] = int(value) if (typ == "int" or name == "epoch") else value
        return pattern, fields
    return None


def fill_pattern(pattern: str, tag: str, fields: dict[str, object]) -> str:
    """``pattern`` with ``{tag}`` and its other placeholders replaced (the inverse of :func:`match_file`)."""
    def value(m: re.Match[str]) -> str:
        return tag if m.group(1) == "tag" else str(fields[m.group(1)])

    return PLACEHOLDER.sub(value, pattern)
