"""Recording a benchmark's figures in bench/README.md, between its own markers, leaving the rest alone."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parent / "README.md"


def record_block(marker: str, heading: str, text: str, readme: Path = README) -> None:
    """Replace the block between `<!-- {marker}:begin -->` and `<!-- {marker}:end -->`.

    Without those markers the block goes at the end of the `heading` section
    (before the next `## ` heading), which is appended when absent.
    """
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    block = f"{begin}\n{text.strip(chr(10))}\n{end}"
    current = readme.read_text() if readme.exists() else "# Benchmarks\n"
    if begin in current and end in current:
        updated = current[: current.index(begin)] + block + current[current.index(end) + len(end):]
    elif heading in current:
        head, tail = current.split(heading, 1)
        body, next_heading, rest = tail.partition("\n## ")
        updated = f"{head}{heading}{body.rstrip()}\n\n{block}\n{next_heading}{rest}"
    else:
        updated = f"{current.rstrip()}\n\n{heading}\n\n{block}\n"
    readme.write_text(updated)
