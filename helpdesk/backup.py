"""Backup and restore (DESIGN.md §7): one archive with a consistent database snapshot and every blob it references.

An archive is a ``.tar.gz`` (or plain ``.tar``) whose members come in this order:

``manifest.json``
    format and version, when and by which release it was made, the backend, the schema (Alembic) revision, row
    counts, the size and sha256 of every other member and the list of blobs; and a checksum of itself.
``database/helpdesk.sqlite3``
    SQLite: a copy made with SQLite's online backup API, one consistent state however many writers are busy.
``database/helpdesk.pgdump``
    PostgreSQL: ``pg_dump --format=custom`` of one snapshot.
``instance/secret_key``
    the secret key generated into the data directory, when there is one: the status links, receipts and FAQ
    answer links already sent out keep working after a restore.
``blobs/ab/cd/<sha256>``
    every blob the snapshot's ``blob`` table lists, but those the retention schedule purged (their files are
    deleted on purpose; their rows stay, marked, and a restore takes them as they are).

The list of blobs is read from the snapshot itself (the copied SQLite file; on PostgreSQL the exported snapshot
pg_dump reads too), so the archive holds exactly the blobs its database refers to. A blob stored while the backup
runs belongs to a row the snapshot does not have; it is not needed. A blob listed but missing or corrupt on disk
fails the backup, naming it. The archive is written under a temporary name in the destination directory and
renamed when complete, so a crash never leaves a half archive under the final name.

A restore checks everything before it changes anything: the manifest and its checksum, the size and sha256 of
every member, every blob's content against its name, that no member is missing or extra, the backend, and that
this release knows the backup's schema. Only then does it refuse a target that holds data (unless forced),
install the blobs, the database (an atomic file rename on SQLite; ``pg_restore --single-transaction`` on
PostgreSQL) and the secret key, and upgrade the schema: a backup of an older release restores into a newer one.
Stop the server and the workers of the target instance before restoring into it.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import IO, Any, Final

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import text

from .errors import HelpdeskError
from .extensions import db
from .timeutil import as_utc, utcnow

log = logging.getLogger(__name__)

FORMAT: Final = "lpse-helpdesk-backup"
FORMAT_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
DATABASE_MEMBERS: Final = {"sqlite": "database/helpdesk.sqlite3", "postgresql": "database/helpdesk.pgdump"}
SECRET_MEMBER: Final = "instance/secret_key"
ARCHIVE_PREFIX: Final = "helpdesk-backup-"
MANIFEST_MAX_BYTES: Final = 256 * 1024 * 1024
CHUNK: Final = 1024 * 1024
# The rows a restore counts, and the rows whose presence makes an instance "not empty".
COUNTED_TABLES: Final = {"tickets": "ticket", "events": "ticket_event", "attachments": "attachment", "blobs": "blob"}
OCCUPYING_TABLES: Final = ("office", "staff", "ticket")

_BLOB_MEMBER = re.compile(r"blobs/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BackupError(HelpdeskError):
    """A backup could not be made; nothing was left under the archive's name."""


class RestoreRefused(HelpdeskError):
    """A restore refused before it changed anything in the target instance; the message says why."""


class InvalidBackup(RestoreRefused):
    """The file is not a complete, intact backup archive (corrupt, truncated, edited, or something else)."""


class TargetNotEmpty(RestoreRefused):
    """The target instance holds data, and the restore was not forced."""


class RestoreFailed(HelpdeskError):
    """A verified backup could not be installed (a full disk, pg_restore failing); the message says what remains."""


@dataclass(frozen=True)
class BackupResult:
    """What ``create_backup`` wrote."""

    path: Path
    size: int
    backend: str
    revision: str
    counts: dict[str, int]

    def line(self) -> str:
        """``12.3 MB, sqlite, revision 0008: 120 tickets, 860 events, 33 attachments, 41 blobs``."""
        return f"{_human_size(self.size)}, {self.backend}, revision {self.revision}: {_counts_text(self.counts)}"


@dataclass(frozen=True)
class RestoreResult:
    """What ``restore_backup`` restored."""

    source: Path
    backend: str
    created_at: str
    revision_restored: str
    revision_now: str
    counts: dict[str, int]
    secret_key: bool = False

    def line(self) -> str:
        """One line: the archive, when it was made, the schema upgrade and the counts."""
        upgraded = (f"schema {self.revision_restored}" if self.revision_restored == self.revision_now
                    else f"schema upgraded {self.revision_restored} -> {self.revision_now}")
        return (f"Restored {self.source.name} (made {self.created_at}, {self.backend}, {upgraded}): "
                f"{_counts_text(self.counts)}")


@dataclass
class _Snapshot:
    """A consistent copy of the database and what it says about itself."""

    file: Path
    revision: str
    counts: dict[str, int]
    blobs: list[str] = field(default_factory=list)


# -- backup ------------------------------------------------------------------------------------------------

def create_backup(dest: str | os.PathLike[str], *, now: datetime | None = None) -> BackupResult:
    """Write one archive of this instance to ``dest``; returns what was written. Needs an app context.

    ``dest`` is an existing directory (the archive is named ``helpdesk-backup-<instance>-YYYYMMDD-HHMMSS.tar.gz``
    after ``now``, UTC) or a file name ending in ``.tar.gz``, ``.tgz`` or ``.tar`` in an existing directory (an
    existing file is replaced, atomically). Raises BackupError: no such directory, pg_dump missing or failing, a
    blob missing or corrupt on disk. Writes nothing to the database.
    """
    now = as_utc(now) if now is not None else utcnow()
    backend = db.engine.dialect.name
    if backend not in DATABASE_MEMBERS:
        raise BackupError(f"cannot back up a {backend} database")
    instance = instance_name()
    path, compress = _archive_path(Path(dest), now=now, instance=instance)
    data_dir = Path(current_app.config["DATA_DIR"])
    work = Path(tempfile.mkdtemp(prefix=".helpdesk-backup-", dir=path.parent))
    try:
        try:
            if backend == "sqlite":
                snapshot = _snapshot_sqlite(work / "helpdesk.sqlite3")
            else:
                snapshot = _snapshot_postgresql(work / "helpdesk.pgdump")
        except (sqlite3.Error, sa.exc.DBAPIError) as exc:
            raise BackupError(f"cannot read the database: {getattr(exc, 'orig', None) or exc}") from None
        members = [(DATABASE_MEMBERS[backend], snapshot.file)]
        secret = data_dir / "secret_key"
        if secret.is_file():
            members.append((SECRET_MEMBER, secret))
        members.extend(_blob_members(data_dir / "blobs", snapshot.blobs))
        entries = {name: _file_entry(name, source) for name, source in members}
        manifest = _seal({
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "app_version": _app_version(),
            "instance": instance, "backend": backend, "database": DATABASE_MEMBERS[backend],
            "alembic_revision": snapshot.revision, "counts": snapshot.counts, "members": entries,
            "blobs": snapshot.blobs,
        })
        partial = work / "archive.partial"
        _write_archive(partial, manifest, members, compress=compress, name=path.name, mtime=now.timestamp())
        os.replace(partial, path)
        _fsync_directory(path.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    size = path.stat().st_size
    log.info("backup %s written: %s bytes, %s", path, size, _counts_text(snapshot.counts))
    return BackupResult(path=path, size=size, backend=backend, revision=snapshot.revision, counts=snapshot.counts)


def instance_name() -> str:
    """The name archives of this instance carry: the first office's code, else ``helpdesk``. Needs an app context."""
    try:
        with db.engine.connect() as connection:  # not the session: a caller's pending work stays as it is
            code = connection.execute(text("SELECT code FROM office ORDER BY id LIMIT 1")).scalar()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        code = None  # no schema yet
    name = re.sub(r"[^a-z0-9_]+", "-", (code or "").lower()).strip("-")
    return name or "helpdesk"


def archive_pattern(instance: str) -> re.Pattern[str]:
    """The names of the archives ``create_backup`` gives this instance in a directory; group 1 is the time."""
    return re.compile(rf"{re.escape(ARCHIVE_PREFIX)}{re.escape(instance)}-(\d{{8}}-\d{{6}})\.tar(?:\.gz)?")


def _archive_path(dest: Path, *, now: datetime, instance: str) -> tuple[Path, bool]:
    """The archive's final path and whether it is gzipped."""
    if dest.is_dir():
        path = dest / f"{ARCHIVE_PREFIX}{instance}-{now:%Y%m%d-%H%M%S}.tar.gz"
        if path.exists():
            raise BackupError(f"{path} already exists")
        return path.resolve(), True
    if dest.name.endswith((".tar.gz", ".tgz")):
        compress = True
    elif dest.name.endswith(".tar"):
        compress = False
    else:
        raise BackupError(f"{dest}: no such directory; give an existing directory, or a file name ending in "
                          ".tar.gz or .tar")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent}: no such directory")
    if dest.exists() and not dest.is_file():
        raise BackupError(f"{dest} exists and is not a file")
    return dest.resolve(), compress


def _snapshot_sqlite(target: Path) -> _Snapshot:
    """Copy the live SQLite database with its online backup API (one read transaction: consistent under writers)."""
    source_name = db.engine.url.database
    if not source_name or source_name == ":memory:" or source_name.startswith("file:"):
        raise BackupError(f"cannot back up the SQLite database {source_name!r}: give it a file")
    if not Path(source_name).is_file():
        raise BackupError(f"the database file {source_name} does not exist: run `helpdesk init`")
    with closing(sqlite3.connect(source_name, timeout=60)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # pages=-1: every page in one step, under one read transaction
        copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained file; the app turns WAL on when it opens it
        problems = [row[0] for row in copy.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise BackupError(f"the database copy fails SQLite's check: {'; '.join(problems[:5])}")
        tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        blob_columns = {row[1] for row in copy.execute("PRAGMA table_info(blob)")}
        snapshot = _describe(lambda sql: copy.execute(sql).fetchall(), tables, blob_columns)
    snapshot.file = target
    return snapshot


def _snapshot_postgresql(target: Path) -> _Snapshot:
    """``pg_dump`` of an exported snapshot, whose blob list and counts are read in the same snapshot."""
    pg_dump = _pg_tool("pg_dump", BackupError)
    conninfo, env = pg_connection(db.engine.url)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            snapshot_id = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            inspector = sa.inspect(connection)
            tables = set(inspector.get_table_names())
            blob_columns = {column["name"] for column in inspector.get_columns("blob")} if "blob" in tables else set()
            snapshot = _describe(lambda sql: connection.execute(text(sql)).all(), tables, blob_columns)
            # The exporting transaction stays open until pg_dump has imported the snapshot (it stays for the run).
            command = [pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot_id}",
                       f"--file={target}", f"--dbname={conninfo}"]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed (exit {done.returncode}): {done.stderr.strip()}")
    snapshot.file = target
    return snapshot


def _describe(query: Callable[[str], Sequence[Any]], tables: set[str], blob_columns: set[str]) -> _Snapshot:
    """Schema revision, counts and blob list of a snapshot, through ``query(sql) -> rows``.

    Blobs the retention schedule purged (``blob.purged_at``) are not listed: their files were deleted on purpose,
    and the rows that named them are marked purged too, so the restored instance shows them as deleted.
    """
    if "alembic_version" not in tables:
        raise BackupError("the database has no schema yet: run `helpdesk init`")
    revision = ",".join(sorted(row[0] for row in query("SELECT version_num FROM alembic_version")))
    counts = {label: int(query(f"SELECT count(*) FROM {table}")[0][0])
              for label, table in COUNTED_TABLES.items() if table in tables}
    blobs = []
    if "blob" in tables:
        live = " WHERE purged_at IS NULL" if "purged_at" in blob_columns else ""
        blobs = [row[0] for row in query(f"SELECT sha256 FROM blob{live} ORDER BY sha256")]
    return _Snapshot(file=Path(), revision=revision, counts=counts, blobs=blobs)


def _blob_members(root: Path, blobs: Iterable[str]) -> list[tuple[str, Path]]:
    """(member name, file) for each listed blob; BackupError naming the first one missing from the store."""
    members = []
    for sha256 in blobs:
        path = root / sha256[:2] / sha256[2:4] / sha256
        if not path.is_file():
            raise BackupError(f"blob {sha256} is in the database but missing from the blob store ({path})")
        members.append((f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}", path))
    return members


def _file_entry(name: str, path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of a file; a blob whose content does not match its name fails the backup."""
    size, digest = _hash_file(path)
    match = _BLOB_MEMBER.fullmatch(name)
    if match and digest != match.group(3):
        raise BackupError(f"blob {match.group(3)} is corrupt in the blob store ({path}): its content hashes to "
                          f"{digest}")
    return {"size": size, "sha256": digest}


def _write_archive(partial: Path, manifest: dict[str, Any], members: list[tuple[str, Path]], *, compress: bool,
                   name: str, mtime: float) -> None:
    """The tar (manifest first), readable by its owner only (it holds password hashes and the secret key)."""
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    entries = manifest["members"]
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        options: dict[str, Any] = {"compresslevel": 6} if compress else {}
        with tarfile.open(name=name, fileobj=handle, mode="w:gz" if compress else "w",
                          format=tarfile.PAX_FORMAT, **options) as tar:
            tar.addfile(_tarinfo(MANIFEST, len(data), mtime), io.BytesIO(data))
            for member, path in members:
                with open(path, "rb") as source:
                    reader = _HashingReader(source)
                    tar.addfile(_tarinfo(member, entries[member]["size"], mtime), reader)
                if reader.hexdigest() != entries[member]["sha256"]:
                    raise BackupError(f"{path} changed while it was being archived")
        handle.flush()
        os.fsync(handle.fileno())


def _tarinfo(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    return info


# -- restore -----------------------------------------------------------------------------------------------

def restore_backup(src: str | os.PathLike[str], *, force: bool = False) -> RestoreResult:
    """Verify the archive ``src`` completely, then restore it into this instance. Needs an app context.

    Raises InvalidBackup (corrupt, truncated, edited, not a backup) and RestoreRefused (another backend, a schema
    newer than this release) before anything in the target changes; then TargetNotEmpty when the instance holds
    offices, staff, tickets or blob files, unless ``force``. With ``force`` the target's database is replaced;
    blob files it has beyond the backup's stay (unreferenced, harmless). Raises RestoreFailed when installing
    fails after verification. Commits; upgrades the schema to this release's.
    """
    source = Path(src)
    if not source.is_file():
        raise InvalidBackup(f"{source}: no such file")
    backend = db.engine.dialect.name
    data_dir = Path(current_app.config["DATA_DIR"])
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))  # same file system: installing is renames
    try:
        manifest = _unpack(source, staging, backend=backend)
        if not force:
            try:
                holdings = _holdings(data_dir)
            except sa.exc.DBAPIError as exc:
                raise RestoreRefused(f"cannot read the target database: {exc.orig}") from None
            if holdings:
                raise TargetNotEmpty(f"the target instance is not empty ({', '.join(holdings)}); restore into an "
                                     "empty instance (a new HELPDESK_DATA_DIR and database), or give --force to "
                                     "replace its data")
        blobs = [_BLOB_MEMBER.fullmatch(name) for name in manifest["members"]]
        try:
            _install_blobs(staging, data_dir, [match.group(0) for match in blobs if match])
        except OSError as exc:
            raise RestoreFailed(f"could not copy the blobs into {data_dir / 'blobs'}: {exc}; the database was not "
                                "touched") from exc
        _install_database(staging / manifest["database"], backend)
        secret = SECRET_MEMBER in manifest["members"]
        if secret:
            _install_file(staging / SECRET_MEMBER, data_dir / "secret_key")
        revision = _upgrade()
        counts = _live_counts()
    finally:
        db.session.rollback()
        shutil.rmtree(staging, ignore_errors=True)
    log.info("restored %s (made %s): %s", source, manifest["created_at"], _counts_text(counts))
    return RestoreResult(source=source, backend=backend, created_at=manifest["created_at"],
                         revision_restored=manifest["alembic_revision"], revision_now=revision, counts=counts,
                         secret_key=secret)


def _unpack(source: Path, staging: Path, *, backend: str) -> dict[str, Any]:
    """Read the whole archive into ``staging``, checking every member; returns the manifest. Raises RestoreRefused."""
    try:
        tar = tarfile.open(source, "r:*")  # noqa: SIM115 - closed by the with below, once opening is told apart
    except tarfile.ReadError:
        raise InvalidBackup(f"{source.name} is not a backup archive (not a tar file, or damaged beyond reading)"
                            ) from None
    except OSError as exc:
        raise RestoreRefused(f"cannot read {source}: {exc}") from None
    try:
        with tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() or first.size > MANIFEST_MAX_BYTES:
                raise InvalidBackup(f"{source.name} is not a helpdesk backup: it does not start with {MANIFEST}")
            manifest = _parse_manifest(_read_all(tar.extractfile(first), first.size))
            _check_compatible(manifest, backend)
            expected: dict[str, dict[str, Any]] = manifest["members"]
            seen: set[str] = set()
            while (member := tar.next()) is not None:
                name = member.name
                if name not in expected or name in seen:
                    raise InvalidBackup(f"{source.name}: unexpected member {name!r} (not in the manifest, or twice)")
                if not member.isfile() or member.size != expected[name]["size"]:
                    raise InvalidBackup(f"{source.name}: member {name} is not the file of {expected[name]['size']} "
                                        "bytes the manifest lists")
                seen.add(name)
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = _stage(tar.extractfile(member), target, member.size)
                if digest != expected[name]["sha256"]:
                    raise InvalidBackup(f"{source.name}: member {name} is corrupt (sha256 {digest}, the manifest "
                                        f"says {expected[name]['sha256']})")
            missing = sorted(set(expected) - seen)
            if missing:
                raise InvalidBackup(f"{source.name} is incomplete (truncated?): {len(missing)} member(s) missing, "
                                    f"first {missing[0]}")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InvalidBackup(f"{source.name} is truncated or corrupt: {exc or type(exc).__name__}") from None
    except OSError as exc:
        raise RestoreRefused(f"cannot read {source} or unpack it into {staging}: {exc}") from None
    return manifest


def _parse_manifest(data: bytes) -> dict[str, Any]:
    """The manifest, checked for shape and against its own checksum."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise InvalidBackup(f"{MANIFEST} is not valid JSON: the archive is corrupt") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidBackup(f"{MANIFEST} does not describe a helpdesk backup")
    if manifest.get("checksum") != _checksum(manifest):
        raise InvalidBackup(f"{MANIFEST} is corrupt or was edited: its checksum does not match")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RestoreRefused(f"the backup format {version!r} is newer than this release reads ({FORMAT_VERSION}): "
                             "upgrade LPSE Helpdesk first")
    try:
        members = manifest["members"]
        database = manifest["database"]
        if manifest["backend"] not in DATABASE_MEMBERS or database != DATABASE_MEMBERS[manifest["backend"]]:
            raise ValueError("unknown backend or database member")
        for name, entry in members.items():
            if not (name in (database, SECRET_MEMBER) or _BLOB_MEMBER.fullmatch(name)):
                raise ValueError(f"member name {name!r}")
            if not (isinstance(entry["size"], int) and entry["size"] >= 0 and _SHA256.fullmatch(entry["sha256"])):
                raise ValueError(f"entry of {name}")
            match = _BLOB_MEMBER.fullmatch(name)
            if match and not (match.group(3).startswith(match.group(1) + match.group(2))
                              and entry["sha256"] == match.group(3)):
                raise ValueError(f"blob {name} does not hash to its name")
        if database not in members:
            raise ValueError("no database member")
        listed = {f"blobs/{sha[:2]}/{sha[2:4]}/{sha}" for sha in manifest["blobs"]}
        if listed != {name for name in members if _BLOB_MEMBER.fullmatch(name)}:
            raise ValueError("the blob list and the blob members differ")
        if not (isinstance(manifest["created_at"], str) and isinstance(manifest["alembic_revision"], str)):
            raise TypeError("created_at or alembic_revision")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise InvalidBackup(f"{MANIFEST} is malformed: {exc}") from None
    return manifest


def _check_compatible(manifest: dict[str, Any], backend: str) -> None:
    """Refuse a backup of another backend, or of a schema this release does not know."""
    if manifest["backend"] != backend:
        raise RestoreRefused(f"this backup holds a {manifest['backend']} database but this instance uses "
                             f"{backend} (DATABASE_URL): restore it into a {manifest['backend']} instance")
    from alembic.script import ScriptDirectory

    from . import MIGRATIONS_DIR

    known = {script.revision for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}
    unknown = [rev for rev in str(manifest["alembic_revision"]).split(",") if rev not in known]
    if unknown:
        raise RestoreRefused(f"this backup comes from a newer release (schema revision {unknown[0]}, made by "
                             f"version {manifest.get('app_version')}): upgrade LPSE Helpdesk first")


def _holdings(data_dir: Path) -> list[str]:
    """What makes the target instance not empty: office, staff or ticket rows, blob files."""
    found = []
    tables = set(sa.inspect(db.engine).get_table_names())
    for table in OCCUPYING_TABLES:
        if table in tables:
            rows = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            if rows:
                found.append(f"{rows} {table} row(s)")
    db.session.rollback()
    blobs = data_dir / "blobs"
    if blobs.is_dir() and any(path.is_file() for path in blobs.rglob("*")):
        found.append(f"blob files in {blobs}")
    return found


def _install_blobs(staging: Path, data_dir: Path, names: list[str]) -> None:
    """Move the staged blobs into the store (renames within the data directory), then sync them to disk."""
    for name in names:
        target = data_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
    if names:
        os.sync()


def _install_database(staged: Path, backend: str) -> None:
    """Replace the target database with the staged one; RestoreFailed when that fails."""
    db.session.remove()
    db.engine.dispose()  # every pooled connection, so nothing holds the old file or locks the tables
    if backend == "sqlite":
        target = Path(db.engine.url.database or "")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # A write-ahead log left beside the old file would be replayed into the new one.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            _install_file(staged, target)
        except OSError as exc:
            raise RestoreFailed(f"could not put the database in place at {target}: {exc}") from exc
        return
    _restore_postgresql(staged)


def _restore_postgresql(dump: Path) -> None:
    """``pg_restore`` in one transaction (all or nothing), over whatever of the dump's objects already exist."""
    pg_restore = _pg_tool("pg_restore", RestoreFailed)
    conninfo, env = pg_connection(db.engine.url)
    listing = subprocess.run([pg_restore, "--list", str(dump)], env=env, capture_output=True, text=True,
                             check=False)
    if listing.returncode != 0:
        raise RestoreFailed(f"pg_restore cannot read the dump: {listing.stderr.strip()}")
    dumped = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing.stdout, flags=re.MULTILINE))
    ours = set(db.metadata.tables) | {"alembic_version"}
    extra = sorted(set(sa.inspect(db.engine).get_table_names()) & ours - dumped)
    if extra:
        # Tables of this release the older backup lacks: the upgrade after the restore creates them again, and
        # their foreign keys would stop pg_restore from dropping the tables they point to. Tables that are not
        # the helpdesk's are left alone.
        with db.engine.begin() as connection:
            for table in extra:
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
        db.engine.dispose()
    command = [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
               "--exit-on-error", f"--dbname={conninfo}", str(dump)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RestoreFailed(f"pg_restore failed (exit {done.returncode}), the database is as it was: "
                            f"{done.stderr.strip()}")


def _upgrade() -> str:
    """Run the migrations up to this release's schema; returns the revision now."""
    from flask_migrate import upgrade

    from . import MIGRATIONS_DIR

    try:
        upgrade(directory=str(MIGRATIONS_DIR))
    except Exception as exc:
        raise RestoreFailed(f"the backup was restored but upgrading its schema failed ({exc}); fix the cause and "
                            "run `helpdesk init`") from exc
    db.session.remove()
    return ",".join(sorted(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars()))


def _live_counts() -> dict[str, int]:
    tables = set(sa.inspect(db.engine).get_table_names())
    return {label: int(db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for label, table in COUNTED_TABLES.items() if table in tables}


# -- retention and the scheduled job -----------------------------------------------------------------------

def prune_backups(directory: str | os.PathLike[str], *, keep: int, instance: str) -> list[Path]:
    """Delete all but the newest ``keep`` (at least 1) archives of ``instance`` in ``directory``; returns them.

    Only files named as ``create_backup`` names this instance's archives are considered; anything else in the
    directory, another instance's archives included, is left alone.
    """
    pattern = archive_pattern(instance)
    archives = sorted((match.group(1), path) for path in Path(directory).iterdir()
                      if (match := pattern.fullmatch(path.name)) and path.is_file())
    doomed = [path for _, path in archives[:max(0, len(archives) - max(1, keep))]]
    for path in doomed:
        path.unlink()
        log.info("backup %s removed (keeping the newest %s)", path, keep)
    return doomed


def scheduled_backup(*, every: float, now: datetime | None = None) -> str:
    """The ``backup`` job: an archive in BACKUP_DIR unless the newest is younger than ``every`` seconds (less a
    tenth, for the scheduler's jitter), then keep the newest BACKUP_KEEP. Returns its summary line.

    Raises BackupError when BACKUP_DIR is not an existing directory (a backup disk that is not mounted must not
    fill the system disk) or the backup fails.
    """
    config = current_app.config
    directory = Path(config["BACKUP_DIR"])
    if not directory.is_dir():
        raise BackupError(f"backup directory {directory} does not exist (HELPDESK_BACKUP_DIR)")
    now = as_utc(now) if now is not None else utcnow()
    instance = instance_name()
    pattern = archive_pattern(instance)
    stamps = sorted(match.group(1) for path in directory.iterdir() if (match := pattern.fullmatch(path.name)))
    if stamps:
        newest = datetime.strptime(stamps[-1], "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
        if now - newest < timedelta(seconds=every * 0.9):
            return f"backup: the newest archive is from {newest:%Y-%m-%d %H:%M:%S} UTC; none due yet"
    result = create_backup(directory, now=now)
    removed = prune_backups(directory, keep=int(config["BACKUP_KEEP"]), instance=instance)
    return f"backup: {result.path.name}, {result.line()}; {len(removed)} older archive(s) removed"


# -- helpers -----------------------------------------------------------------------------------------------

def pg_connection(url: sa.URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump/pg_restore without the password, and an environment carrying it.

    The password travels in PGPASSWORD, never on a command line (``ps`` shows those to every user) or in a log.
    """
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = sa.URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database,
                          query=url.query)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(name: str, error: type[HelpdeskError]) -> str:
    found = shutil.which(name)
    if found is None:
        raise error(f"{name} is not installed (the PostgreSQL client tools: apt install postgresql-client)")
    return found


def _seal(manifest: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, "checksum": _checksum(manifest)}


def _checksum(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's canonical JSON without its checksum: catches a damaged or edited manifest."""
    body = {key: value for key, value in manifest.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _stage(reader: IO[bytes] | None, target: Path, size: int) -> str:
    """Copy one member to ``target``, returning the sha256 of what was read."""
    if reader is None:
        raise InvalidBackup(f"member {target.name} cannot be read")
    digest = hashlib.sha256()
    with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        remaining = size
        while remaining > 0:
            chunk = reader.read(min(CHUNK, remaining))
            if not chunk:
                raise EOFError("unexpected end of data")
            digest.update(chunk)
            out.write(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


def _read_all(reader: IO[bytes] | None, size: int) -> bytes:
    if reader is None:
        raise InvalidBackup(f"{MANIFEST} cannot be read")
    data = reader.read(size)
    if len(data) != size:
        raise EOFError("unexpected end of data")
    return data


def _install_file(staged: Path, target: Path) -> None:
    """Put ``staged`` at ``target`` atomically (a rename, or a synced copy and a rename across file systems)."""
    if os.stat(staged).st_dev != os.stat(target.parent).st_dev:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".restore-")
        with os.fdopen(fd, "wb") as out, open(staged, "rb") as source:
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        staged = Path(tmp)
    else:
        with open(staged, "rb") as handle:
            os.fsync(handle.fileno())
    os.chmod(staged, 0o600)
    os.replace(staged, target)
    _fsync_directory(target.parent)


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _app_version() -> str:
    try:
        return metadata.version("lpse-helpdesk")
    except metadata.PackageNotFoundError:
        return "unknown"


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[label]:,} {label}" for label in COUNTED_TABLES if label in counts) or "no data"


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    exponent = min(3, (size.bit_length() - 1) // 10)
    return f"{size / 1024 ** exponent:.1f} {('KB', 'MB', 'GB')[exponent - 1]}"


class _HashingReader:
    """A file wrapper that hashes what tarfile reads from it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

