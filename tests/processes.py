"""A service process started by a test, its stderr read line by line as it comes (never a fixed pause)."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from typing import TextIO

import pytest

# A bound on waiting for a process's next line, not a pause: lines are read the moment they are written.
WAIT_SECONDS = 120


class LoggedProcess:
    """`reads`: the pipe its log comes out of, stderr unless said (the JSON log is written to stdout)."""

    def __init__(self, name: str, process: subprocess.Popen[str], reads: TextIO | None = None) -> None:
        self.name = name
        self.process = process
        self.seen: list[str] = []  # every line read so far
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._ended = False
        stream = reads if reads is not None else process.stderr
        assert stream is not None, "start the process with that stream as a pipe"
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: TextIO) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next_line(self, deadline: float) -> str:
        """The next line it writes (also kept in `seen`); fails the test if the process ends first."""
        line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            self._ended = True
            pytest.fail(f"{self.name} stopped:\n" + "\n".join(self.seen))
        self.seen.append(line)
        return line

    def next_match(self, pattern: str) -> re.Match[str]:
        """Reads on until a new line matches `pattern`."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not (match := re.search(pattern, self.next_line(deadline))):
            pass
        return match

    def wait_for(self, pattern: str, count: int = 1) -> list[str]:
        """Reads on until `count` lines matched `pattern`, counting from the first line; those lines."""
        deadline = time.monotonic() + WAIT_SECONDS
        while len(matched := [line for line in self.seen if re.search(pattern, line)]) < count:
            self.next_line(deadline)
        return matched

    def read_all(self) -> str:
        """Everything written so far."""
        while not self._ended:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._ended = True
            else:
                self.seen.append(line)
        return "\n".join(self.seen)

    def stop(self) -> list[str]:
        """Stops the process (as Ctrl-C would); every line it wrote."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        while not self._ended:
            line = self._lines.get(timeout=WAIT_SECONDS)
            if line is None:
                self._ended = True
            else:
                self.seen.append(line)
        return self.seen
