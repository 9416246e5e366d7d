"""Fault injection (harness: tests/support/faults.py, run short by tests/faults).

    .venv/bin/python -m bench.faults --help
"""

from tests.support.faults import main

if __name__ == "__main__":
    main()
