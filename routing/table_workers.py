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

from routing.table_cells import BATCH, Columns, fill, sparse_columns

_WORKER_CODE = (
    "import sys; from routing import table_workers as w; getattr(w, sys.argv[1])(*sys.argv[2:])"
)


def _save_graph(workdir: Path, reverse: sp.csr_matrix) -> None:
    np.save(workdir / "indptr.npy", reverse.indptr)
    np.save(workdir / "indices.npy", reverse.indices)
    np.save(workdir / "data.npy", reverse.data)


def _load_graph(folder: Path) -> sp.csr_matrix:
    indptr = np.load(folder / "indptr.npy", mmap_mode="r")
    indices = np.load(folder / "indices.npy", mmap_mode="r")
    data = np.load(folder / "data.npy", mmap_mode="r")
    size = len(indptr) - 1
    return sp.csr_matrix((data, indices, indptr), shape=(size, size))


def _run_workers(workdir: Path, entry: str, spec: str, count: int, workers: int) -> None:
    """Run ``count`` workers (``entry(workdir, "i,workers,<spec>")``) and wait for them all."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, entry, str(workdir), f"{i},{workers},{spec}"],
            env=env,
        )
        for i in range(count)
    ]
    failed = [p.args for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(f"travel-time table worker failed: {failed}")


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
        _save_graph(workdir, reverse)
        # Allocate the shared pages once, up front: first-touch faults on fresh shared memory
        # cost ~15 us a page on this VM (7 s for 2 GB), pre-allocated pages ~1.7 us.
        table_path = workdir / "table.bin"
        fd = os.open(table_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, max(n * n_h * dtype.itemsize, 1))
        finally:
            os.close(fd)
        spec = f"{limit!r},{BATCH},{n},{n_h},{dtype.str}"
        _run_workers(workdir, "worker_main", spec, min(workers, len(batches)), workers)
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
    reverse = _load_graph(folder)
    shape = (int(n), int(n_h))
    table = np.asarray(np.memmap(folder / "table.bin", dtype=dtype, mode="r+", shape=shape))
    step = int(batch)
    for start in range(int(index) * step, shape[1], int(workers) * step):
        columns = np.arange(start, min(start + step, shape[1]))
        fill(table, reverse, shape[0], columns, float(limit))


def build_sparse_parallel(
    reverse: sp.csr_matrix,
    n: int,
    n_h: int,
    batches: list[NDArray[np.int64]],
    horizon_s: float,
    workers: int,
) -> list[Columns]:
    """
    :func:`routing.table_cells.sparse_columns` of every batch, split over worker processes.

    Each worker writes its batches' columns to files in ``/dev/shm``; they are read back in
    hospital order and each file is deleted once read, so a column is never held twice.
    """
    shm_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # nosec B108
    workdir = Path(tempfile.mkdtemp(prefix="lifeline-eta-", dir=shm_dir))
    try:
        _save_graph(workdir, reverse)
        spec = f"{horizon_s!r},{BATCH},{n},{n_h}"
        _run_workers(workdir, "sparse_worker_main", spec, min(workers, len(batches)), workers)
        columns: list[Columns] = []
        for batch in batches:
            stem = workdir / f"b{int(batch[0])}"
            parts = tuple(np.load(f"{stem}_{part}.npy") for part in ("counts", "states", "ticks"))
            for part in ("counts", "states", "ticks"):
                Path(f"{stem}_{part}.npy").unlink()
            columns.append(parts)
        return columns
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def sparse_worker_main(workdir: str, spec: str) -> None:
    """Write the sparse columns of every ``workers``-th batch of hospitals."""
    index, workers, horizon, batch, n, n_h = spec.split(",")
    folder = Path(workdir)
    reverse = _load_graph(folder)
    step = int(batch)
    for start in range(int(index) * step, int(n_h), int(workers) * step):
        columns = np.arange(start, min(start + step, int(n_h)))
        counts, states, ticks = sparse_columns(reverse, int(n), columns, float(horizon))
        for part, values in (("counts", counts), ("states", states), ("ticks", ticks)):
            np.save(folder / f"b{start}_{part}.npy", values)
