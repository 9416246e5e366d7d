"""Checkpoints of the audit chain's head, signed with a key the database never holds.

The hash chain proves the rows agree with each other, not that they are the rows that were
written: whoever can write the table can delete the newest rows, or rewrite one and recompute
every later hash. A checkpoint is ``(seq, record_hash)`` of the head, HMAC-signed with
``LIFELINE_IDENTITY_AUDIT_KEY`` and appended to a file under ``LIFELINE_DATA_DIR`` (and the log),
both outside the database. :func:`check` then tells truncation (a checkpointed row is gone) and
rewriting (a checkpointed row's hash changed) apart, and names the checkpoint that caught it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL, make_url

from data.base import utcnow

log = logging.getLogger("lifeline.audit")


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment, and its signature."""

    database: str
    seq: int
    record_hash: str
    rows: int
    at: str
    mac: str = ""

    def signed_text(self) -> bytes:
        """What the MAC covers."""
        return f"{self.database}\n{self.seq}\n{self.record_hash}\n{self.rows}\n{self.at}".encode()


def _key(*, audit_key: str | None, data_dir: str) -> bytes:
    """LIFELINE_IDENTITY_AUDIT_KEY; in development a random key under the data dir (made once)."""
    if audit_key:
        return audit_key.encode()
    path = Path(data_dir) / "audit" / "dev-audit.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return path.read_bytes().strip()


def _sign(checkpoint: Checkpoint, key: bytes) -> str:
    return hmac.new(key, checkpoint.signed_text(), hashlib.sha256).hexdigest()


def database_name(url: str | URL) -> str:
    """Checkpoints are kept per database: one data dir may serve several (dev, tests)."""
    parsed = make_url(str(url)) if not isinstance(url, URL) else url
    return f"{parsed.host or 'local'}_{parsed.port or 5432}_{parsed.database}"


def checkpoint_path(url: str | URL, *, data_dir: str) -> Path:
    """The append-only file of one database's checkpoints."""
    return Path(data_dir) / "audit" / f"checkpoints-{database_name(url)}.jsonl"


def _head(conn: Connection) -> tuple[int, str, int] | None:
    row = conn.execute(
        text(
            "SELECT seq, record_hash, (SELECT count(*) FROM audit_log) FROM audit_log "
            "ORDER BY seq DESC LIMIT 1"
        )
    ).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]))


def read_checkpoints(url: str | URL, *, data_dir: str) -> list[Checkpoint]:
    """Every checkpoint written for this database, oldest first (unreadable lines skipped)."""
    path = checkpoint_path(url, data_dir=data_dir)
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(Checkpoint(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return found


def checkpoint(
    engine: Engine, *, audit_key: str | None, data_dir: str, only_if_advanced: bool = False
) -> Checkpoint | None:
    """Sign the current head and append it to the file and the log; None for an empty trail."""
    with engine.connect() as conn:
        head = _head(conn)
    if head is None:
        return None
    if only_if_advanced:
        previous = read_checkpoints(engine.url, data_dir=data_dir)
        if previous and previous[-1].seq == head[0]:
            return None
    unsigned = Checkpoint(
        database=database_name(engine.url), seq=head[0], record_hash=head[1], rows=head[2],
        at=utcnow().isoformat(),
    )
    key = _key(audit_key=audit_key, data_dir=data_dir)
    signed = Checkpoint(**{**asdict(unsigned), "mac": _sign(unsigned, key)})
    path = checkpoint_path(engine.url, data_dir=data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(asdict(signed), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.info("audit checkpoint seq=%s head=%s rows=%s mac=%s", signed.seq, signed.record_hash,
             signed.rows, signed.mac)
    return signed


@dataclass(frozen=True)
class Finding:
    """One discrepancy between a checkpoint and the table."""

    kind: str  # "truncated", "rewritten", "forged_checkpoint"
    seq: int
    detail: str


def check(
    conn: Connection, checkpoints: Iterable[Checkpoint], *, audit_key: str | None, data_dir: str
) -> list[Finding]:
    """Compare each signed checkpoint with the table; earliest finding of each kind first."""
    key = _key(audit_key=audit_key, data_dir=data_dir)
    findings: list[Finding] = []
    newest = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar()
    newest = int(newest) if newest is not None else 0
    previous_seq = 0
    for point in checkpoints:
        if not hmac.compare_digest(point.mac, _sign(point, key)):
            findings.append(Finding(
                "forged_checkpoint", point.seq,
                f"the checkpoint of {point.at} is not signed by LIFELINE_IDENTITY_AUDIT_KEY",
            ))
            continue
        stored = conn.execute(
            text("SELECT record_hash FROM audit_log WHERE seq = :s"), {"s": point.seq}
        ).scalar()
        if stored is None and point.seq > newest:
            findings.append(Finding(
                "truncated", point.seq,
                f"the chain ends at seq {newest} but the checkpoint of {point.at} saw it reach "
                f"seq {point.seq}: rows {newest + 1}..{point.seq} were deleted",
            ))
        elif stored is None:
            findings.append(Finding(
                "truncated", point.seq,
                f"row {point.seq}, the head at the checkpoint of {point.at}, was deleted",
            ))
        elif stored != point.record_hash:
            findings.append(Finding(
                "rewritten", point.seq,
                f"row {point.seq} no longer has the hash the checkpoint of {point.at} signed: "
                f"rows {previous_seq + 1}..{point.seq} were rewritten and the hashes recomputed",
            ))
        previous_seq = point.seq
    # Several checkpoints usually catch one tampering. A rewrite starts in the interval of the
    # first checkpoint that disagrees; a truncation reaches the last one that saw more rows.
    chosen: dict[str, Finding] = {}
    for finding in findings:
        if finding.kind == "truncated" or finding.kind not in chosen:
            chosen[finding.kind] = finding
    return list(chosen.values())
