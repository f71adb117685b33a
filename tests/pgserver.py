"""A throwaway PostgreSQL server of the test's own, in a temporary directory, that the test may stop and
start again (on the same port) to see what the service does meanwhile. Never the shared test server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_bin() -> Path | None:
    found = [path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists()]
    return max(found, key=lambda path: int(path.parent.name.split(".")[0])) if found else None


class ThrowawayPostgres:
    def __init__(self) -> None:
        # Not under pytest's temporary directory, which only root may enter.
        tmp = Path(tempfile.mkdtemp(prefix="avv-pg-"))
        self.tmp = tmp
        server_bin = _server_bin()
        if server_bin is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = server_bin
        self.dir = tmp / "pg"
        self.data = self.dir / "data"
        self.port = _free_port()
        self.dir.mkdir(parents=True)
        (self.dir / "sock").mkdir()
        if os.geteuid() == 0:  # initdb refuses root: the server belongs to the postgres user
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.dir / "sock", "postgres")
            tmp.chmod(0o711)

    def _run(self, *cmd: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else list(cmd)
        done = subprocess.run(full, cwd=self.dir, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError(f"{cmd[0]} failed: {done.stderr}\n{log.read_text() if log.exists() else ''}")

    def init(self) -> str:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-locale",
                  "--encoding=UTF8")
        self.start()
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # fsync off (the data is thrown away) but commits stay synchronous: an acknowledged write must
        # survive the server's stop and start, which is what the tests check.
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir / 'sock'} -c fsync=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                  "-t", "30", "-s", "-o", options, "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-s", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
