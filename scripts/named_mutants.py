"""The five wrong changes of issue 19, each applied to a scratch copy: the fast tests must fail.

    .venv/bin/python scripts/named_mutants.py

Each mutant is a textual edit of one file; the script copies the committed tree (git archive)
to a temporary directory, applies the edit, runs the fast tests there and reports which failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ["tests/unit", "tests/unit/test_care_rules.py", "tests/unit/test_object_rules.py",
        "tests/integration/test_core_storage.py"]

#: name -> (file, text to replace, replacement)
MUTANTS = {
    "a case closes straight from dispatched": (
        "dispatch/lifecycle.py",
        "    (CaseStatus.ARRIVED, CaseAction.CLOSE): CaseStatus.CLOSED,\n",
        "    (CaseStatus.ARRIVED, CaseAction.CLOSE): CaseStatus.CLOSED,\n"
        "    (CaseStatus.DISPATCHED, CaseAction.CLOSE): CaseStatus.CLOSED,\n",
    ),
    "the audit chain's previous_hash link is not checked": (
        "identity/audit.py",
        "        if row.previous_hash != previous:\n",
        "        if False:\n",
    ),
    "the actor is left out of the audit hash": (
        "identity/audit.py",
        '        "actor": row.actor,\n',
        "",
    ),
    "high-severity trauma goes to a level-3 centre": (
        "dispatch/triage_rules.py",
        "            return Capability.TRAUMA_2, ",
        "            return Capability.TRAUMA_3, ",
    ),
    "psychiatric emergencies go to a general ED": (
        "dispatch/triage_rules.py",
        "            return Capability.PSYCHIATRIC, ",
        "            return Capability.GENERAL_ED, ",
    ),
}


def main() -> int:
    survivors = 0
    for name, (path, old, new) in MUTANTS.items():
        with tempfile.TemporaryDirectory(prefix="lifeline-mutant-") as scratch:
            archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", scratch], input=archive, check=True)
            target = Path(scratch) / path
            text = target.read_text()
            assert text.count(old) == 1, f"{name}: the original text is not in {path}"
            target.write_text(text.replace(old, new))
            run = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *FAST],
                cwd=scratch, capture_output=True, text=True,
                env={"PYTHONPATH": scratch, "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
            )
            failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
            verdict = "killed" if run.returncode == 1 else f"NOT killed (exit {run.returncode})"
            print(f"{name} [{path}]: {verdict}; first failure: {failed[:1] or run.stdout[-300:]}")
            survivors += run.returncode == 0
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
