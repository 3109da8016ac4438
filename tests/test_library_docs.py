"""The runnable examples of docs/sections/library.md work as written, in a clean process, on the emulated home."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.emulated_home import emulated_home, registry_with

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "sections" / "library.md"


def _blocks() -> list[tuple[str, list[str]]]:
    """Each runnable block with the output the text after it promises."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.S):
        code = match.group(1)
        if "asyncio.run" not in code:
            continue  # a fragment (one that names a real network address is never run)
        after = text[match.end() :]
        printed = re.match(r"\s*This prints(?::\s*```text\n(.*?)```|\s+`(.*?)`)", after, re.S)
        assert printed, "every runnable example says what it prints"
        expected = (printed.group(1) or printed.group(2)).strip().splitlines()
        found.append((code, expected))
    return found


async def test_library_examples_print_what_the_docs_say(tmp_path: Path) -> None:
    blocks = _blocks()
    assert len(blocks) == 3
    async with emulated_home("127.0.11.1", "librarydocs", "l" * 32) as world:
        registry, _ = registry_with(world.manifest, tmp_path)
        registry.close()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(REPO / "src"),
            "TUYAGATE_DATA_DIR": str(tmp_path),
        }
        for code, expected in blocks:
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", code],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            assert done.stdout.strip().splitlines() == expected
