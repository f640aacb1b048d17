"""The mutation score per module and the surviving mutants, from mutmut's results in mutants/.

    python tests/mutation_score.py      # after `mutmut run` (what `make mutation` does)

A mutant counts as killed when a test failed or timed out with it in place; a mutant no selected
test reaches ("no tests") counts against the score like a survivor.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from mutmut.stats import status_by_exit_code

KILLED = {"killed", "timeout", "caught by type check"}


def results(root: Path) -> dict[str, dict[str, str]]:
    """Status of every mutant, per module: {module: {mutant name: status}}."""
    by_module: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted(root.rglob("*.py.meta")):
        module = meta.relative_to(root).as_posix().removesuffix(".meta")
        for name, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            by_module[module][name] = status_by_exit_code[exit_code]
    return by_module


def function_of(mutant: str) -> str:
    """`engine.textnorm.xǁNormalizedǁto_original__mutmut_3` -> `Normalized.to_original`."""
    name = re.sub(r"__mutmut_\d+$", "", mutant.rsplit(".", 1)[-1])
    return name.removeprefix("x_") if name.startswith("x_") else ".".join(name.split("ǁ")[1:])


def main(root: Path = Path("mutants")) -> int:
    by_module = results(root)
    if not by_module:
        print(f"no mutmut results under {root}/: run `make mutation` first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | survived | no tests | score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    totals: Counter = Counter()
    for module, statuses in by_module.items():
        counts = Counter("killed" if s in KILLED else s for s in statuses.values())
        counts["mutants"] = len(statuses)
        totals.update(counts)
        print(f"| {module} | {counts['mutants']} | {counts['killed']} | {counts['survived']} | "
              f"{counts['no tests']} | {counts['killed'] / counts['mutants']:.1%} |")
    print(f"| **all** | {totals['mutants']} | {totals['killed']} | {totals['survived']} | {totals['no tests']} | "
          f"**{totals['killed'] / totals['mutants']:.1%}** |")
    left = [(module, name, status) for module, statuses in by_module.items()
            for name, status in statuses.items() if status not in KILLED]
    if left:
        print("\nNot killed (`mutmut show NAME` prints the change):")
        for module, name, status in left:
            print(f"- {status}: {function_of(name)} — {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
