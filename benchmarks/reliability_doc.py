"""RELIABILITY.md is written in sections, each by the benchmark that measures it.

``benchmarks/faults.py --table``, ``benchmarks/soak.py --reliability`` and ``benchmarks/reliability.py``
each own one ``## `` section and replace only it, so that one regeneration never clobbers another's
figures or the hand-written promises at the top.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["replace_section"]


def replace_section(path: Path, heading: str, section: str) -> None:
    """Put ``section`` (which starts with ``heading``) in place of that section of ``path``, or append it.

    A section runs from its ``## `` heading to the next ``## `` heading (``### `` subsections stay
    inside it) or the end of the file.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else "# Reliability\n"
    section = section.rstrip("\n") + "\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip("\n") == heading), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + section + ("\n" + tail if tail else "")
    path.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
