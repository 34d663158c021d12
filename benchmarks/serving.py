"""Servers for the HTTP benchmarks: uvicorn with the production settings, on a free port.

The production settings are one worker process per CPU, no access log, and the fastest HTTP
parser and event loop uvicorn can use *if they are installed* (``httptools``, ``uvloop``);
Tutela does not depend on them, so without them uvicorn runs ``h11`` on ``asyncio``, and the
table says which were used. Each server runs in its own process group on 127.0.0.1 and is
stopped (SIGTERM, then SIGKILL) when the block ends.

On the asyncio loop, ``uvicorn --workers N`` leaves Nagle's algorithm on for every connection
(see ``uvicorn_nodelay``), which caps each keep-alive connection at about 25 requests per
second. The servers are then started through ``benchmarks.uvicorn_nodelay``, which only
marks the listening socket as TCP, and the table says so; ``fix_nodelay=False`` starts the
stock command instead.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerOptions:
    workers: int
    http: str  # httptools | h11
    loop: str  # uvloop | asyncio
    nodelay_fix: bool  # start through benchmarks.uvicorn_nodelay

    def args(self) -> list[str]:
        return [
            "--workers",
            str(self.workers),
            "--http",
            self.http,
            "--loop",
            self.loop,
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    def describe(self) -> str:
        text = (
            f"uvicorn --workers {self.workers} --http {self.http} --loop {self.loop} "
            "--no-access-log"
        )
        return text + (" (listening socket marked TCP: TCP_NODELAY)" if self.nodelay_fix else "")

    def as_dict(self) -> dict[str, object]:
        return {
            "workers": self.workers,
            "http": self.http,
            "loop": self.loop,
            "access_log": False,
            "nodelay_fix": self.nodelay_fix,
        }


def production_options() -> ServerOptions:
    from benchmarks.uvicorn_nodelay import needs_fix

    workers = os.cpu_count() or 1
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    return ServerOptions(
        workers=workers,
        http="httptools" if find_spec("httptools") else "h11",
        loop=loop,
        nodelay_fix=workers > 1 and needs_fix(loop),
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class ServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by the server: the supervisor and all its workers."""
        return tree_cpu_seconds(self.pid)


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU seconds of a process and its descendants (Linux ``/proc``), or
    None where ``/proc`` is not available. Exited children are not counted, so take the
    difference of two readings while the same processes run."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    parent: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        pid = int(name)
        parent[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    if root not in ticks:
        return None
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, ppid in parent.items():
            if ppid == current and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(ticks[pid] for pid in tree) / os.sysconf("SC_CLK_TCK")


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise ServerError(f"the server did not answer {url} within {timeout:g} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # our own process group only
        process.wait(timeout=5)


class Launch:
    """A server process being started; ``ready()`` waits until it answers."""

    def __init__(self, factory: str, options: ServerOptions, env: Mapping[str, str]) -> None:
        self.factory = factory
        port = free_port()
        self.base_url = f"http://{HOST}:{port}"
        entry = "benchmarks.uvicorn_nodelay" if options.nodelay_fix else "uvicorn"
        command = [
            sys.executable,
            "-m",
            entry,
            factory if ":" in factory else f"benchmarks.apps:{factory}",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(port),
            *options.args(),
        ]
        environment = dict(env)
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), environment.get("PYTHONPATH", "")) if p
        )
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="tutela-bench-server-", suffix=".log"
        )
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ready(self) -> Server:
        _wait_ready(self.process, f"{self.base_url}/v1/health", Path(self.log.name), timeout=60)
        return Server(self.factory, self.base_url, self.process.pid)

    def stop(self) -> None:
        try:
            _stop(self.process)
        finally:
            self.log.close()


@contextmanager
def serve(
    factories: Sequence[str], options: ServerOptions, env: Mapping[str, str] | None = None
) -> Iterator[list[Server]]:
    """Run ``benchmarks.apps:<factory>`` (or ``module:factory``) for each factory under
    uvicorn, all started together, until the block ends."""
    launches: list[Launch] = []
    try:
        for factory in factories:
            launches.append(Launch(factory, options, os.environ if env is None else env))
        yield [launch.ready() for launch in launches]
    finally:
        for launch in launches:
            launch.stop()
