"""Build a large travel-time table in worker processes sharing one file-backed table."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from routing.table import BATCH, fill

_WORKER_CODE = (
    "import sys; from routing.table_workers import worker_main; worker_main(*sys.argv[1:])"
)


def build_parallel(
    reverse: sp.csr_matrix,
    n: int,
    n_h: int,
    batches: list[NDArray[np.int64]],
    limit: float,
    workers: int,
    dtype: np.dtype[Any],
) -> NDArray[Any]:
    """
    Split the Dijkstras over worker processes writing into one shared, file-backed table.

    Workers are plain ``python -c`` subprocesses rather than a
    ``multiprocessing`` pool: ``spawn`` would re-import the caller's ``__main__`` (breaking
    scripts without a main guard) and ``fork`` is unsafe from the threaded service. The graph
    and the table live in ``/dev/shm``, mapped by every process, so nothing is copied.
    """
    # mkdtemp makes a private 0700 directory, also under /dev/shm (bandit B108 is a false alarm).
    shm_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # nosec B108
    workdir = Path(tempfile.mkdtemp(prefix="lifeline-eta-", dir=shm_dir))
    try:
        np.save(workdir / "indptr.npy", reverse.indptr)
        np.save(workdir / "indices.npy", reverse.indices)
        np.save(workdir / "data.npy", reverse.data)
        # Allocate the shared pages once, up front: first-touch faults on fresh shared memory
        # cost ~15 us a page on this VM (7 s for 2 GB), pre-allocated pages ~1.7 us.
        table_path = workdir / "table.bin"
        fd = os.open(table_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, max(n * n_h * dtype.itemsize, 1))
        finally:
            os.close(fd)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER_CODE,
                    str(workdir),
                    f"{i},{workers},{limit!r},{BATCH},{n},{n_h},{dtype.str}",
                ],
                env=env,
            )
            for i in range(min(workers, len(batches)))
        ]
        failed = [p.args for p in procs if p.wait() != 0]
        if failed:
            raise RuntimeError(f"travel-time table worker failed: {failed}")
        table = np.asarray(np.memmap(table_path, dtype=dtype, mode="r+", shape=(n, n_h)))
        # Map every page now (one read per row) rather than fault them in during queries.
        np.add.reduce(table[:, 0])
        return table  # plain ndarray view: row reads skip memmap's subclass hooks
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # mappings stay valid until released


def worker_main(workdir: str, spec: str) -> None:
    """Fill the table columns of every ``workers``-th batch of hospitals."""
    index, workers, limit, batch, n, n_h, dtype = spec.split(",")
    folder = Path(workdir)
    indptr = np.load(folder / "indptr.npy", mmap_mode="r")
    indices = np.load(folder / "indices.npy", mmap_mode="r")
    data = np.load(folder / "data.npy", mmap_mode="r")
    size = len(indptr) - 1
    reverse = sp.csr_matrix((data, indices, indptr), shape=(size, size))
    shape = (int(n), int(n_h))
    table = np.asarray(np.memmap(folder / "table.bin", dtype=dtype, mode="r+", shape=shape))
    step = int(batch)
    for start in range(int(index) * step, shape[1], int(workers) * step):
        columns = np.arange(start, min(start + step, shape[1]))
        fill(table, reverse, shape[0], columns, float(limit))
