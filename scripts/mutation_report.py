"""After `mutmut run`: print the survivors and write docs/mutation/last-run.md.

A survivor listed in docs/mutation/equivalent.md (with its reason) is accepted; any other makes
the exit status 1, so `make mutate` fails until a test kills it or it is explained.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
EQUIVALENT = ROOT / "docs" / "mutation" / "equivalent.md"
REPORT = ROOT / "docs" / "mutation" / "last-run.md"
#: A timed-out mutant made the fast tests hang (the writer never answers, a loop never ends):
#: the suite does not pass it either (pytest-timeout fails a hung test), so it counts as caught.
KILLED = {"killed", "timeout"}


def results() -> dict[str, str]:
    """Every mutant's name and status, from mutmut's own records."""
    out = subprocess.run([MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        name, _, status = line.strip().partition(": ")
        if name and status:
            found[name] = status
    return found


def equivalents() -> dict[str, str]:
    """Mutants explained as equivalent: ``- `name`: reason`` lines of equivalent.md."""
    if not EQUIVALENT.exists():
        return {}
    listed = re.findall(r"^- `([^`]+)`: (.+)$", EQUIVALENT.read_text(), flags=re.MULTILINE)
    return dict(listed)


def diff(name: str) -> str:
    """The changed lines of a mutant."""
    shown = subprocess.run([MUTMUT, "show", name], cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in shown.stdout.splitlines()
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return "\n".join(lines)


def main() -> int:
    statuses = results()
    explained = equivalents()
    counts = Counter(statuses.values())
    survivors = sorted(n for n, s in statuses.items() if s not in KILLED)
    unexplained = [n for n in survivors if n not in explained]
    stale = sorted(set(explained) - set(survivors))
    killed = sum(counts[s] for s in KILLED)
    lines = [
        "# Mutation testing: the last run",
        "",
        f"`make mutate` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC (mutmut, the fast tests; "
        "modules and tests in pyproject.toml `[tool.mutmut]`).",
        "",
        f"- mutants: {len(statuses)}",
        f"- killed (a test failed, or the tests hung: timeout): {killed}",
        f"- survived, explained as equivalent ([equivalent.md](equivalent.md)): "
        f"{len(survivors) - len(unexplained)}",
        f"- survived, unexplained: {len(unexplained)}",
        f"- statuses: {', '.join(f'{s} {n}' for s, n in sorted(counts.items()))}",
        "",
    ]
    if unexplained:
        lines += ["## Unexplained survivors", ""]
        for name in unexplained:
            lines += [f"### `{name}` ({statuses[name]})", "", "```diff", diff(name), "```", ""]
    if stale:
        lines += ["## Listed as equivalent but no longer surviving", ""]
        lines += [f"- `{name}`" for name in stale] + [""]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
