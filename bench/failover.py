"""Failover of the HA stack (harness: tests/support/failover.py, run short by tests/faults).

    .venv/bin/python -m bench.failover --help
"""

from tests.support.failover import main

if __name__ == "__main__":
    main()
