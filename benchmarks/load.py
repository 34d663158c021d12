"""HTTP load: ``wrk`` when it is on PATH, else a small keep-alive load generator in Python.

Both keep ``connections`` HTTP/1.1 connections busy for ``seconds`` (one request in flight
per connection, no pipelining), cycle through a fixed list of requests (each connection
starting at a different place), and report requests per second, latency percentiles and
errors (connection errors, timeouts and non-2xx answers). The Python generator runs in its
own process (``python -m benchmarks.load SPEC.json``) with one asyncio event loop; it is
much slower than ``wrk``, so with it the table shows the generator's ceiling as much as the
server's, and says so.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
MARK = "LOAD-RESULT "


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Load:
    tool: str  # "wrk" or "python"
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    rates: tuple[float, ...] = ()  # per run, when several runs are combined
    cpu_us: float | None = None  # server CPU per request (all its processes), if known

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "per_s": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "errors": self.errors,
            "runs_per_s": [round(r, 1) for r in self.rates or (self.rate,)],
            "server_cpu_us_per_request": None if self.cpu_us is None else round(self.cpu_us, 1),
        }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def tool_name() -> str:
    return "wrk" if wrk_path() else "python"


def describe_tool() -> str:
    if wrk_path():
        return "wrk"
    return "Python asyncio load generator (wrk not on PATH; its own ceiling is low)"


class LoadError(RuntimeError):
    pass


def run(
    base_url: str,
    requests: Sequence[Request],
    headers: Mapping[str, str],
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
) -> Load:
    """Apply the load and return what the generator measured."""
    with tempfile.TemporaryDirectory(prefix="tutela-bench-load-") as tmp:
        if wrk_path():
            return _run_wrk(Path(tmp), base_url, requests, headers, connections, seconds, threads)
        return _run_python(Path(tmp), base_url, requests, headers, connections, seconds)


def _parse(output: str, tool: str) -> Load:
    for line in output.splitlines():
        if line.startswith(MARK):
            data = json.loads(line[len(MARK) :])
            return Load(
                tool,
                int(data["requests"]),
                float(data["seconds"]),
                float(data["p50_ms"]),
                float(data["p99_ms"]),
                int(data["errors"]),
            )
    raise LoadError(f"{tool} gave no result:\n{output}")


# -- wrk ------------------------------------------------------------------------------------

_LUA = """\
local requests = {
%(requests)s
}
%(headers)s
local next_id = 1
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local prepared = {}
local index = 0
function init(args)
  for i, r in ipairs(requests) do
    prepared[i] = wrk.format(r[1], r[2], nil, r[3])
  end
  index = (id - 1) * 7919
end

function request()
  index = index + 1
  return prepared[(index %% #prepared) + 1]
end

function done(summary, latency, _)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    '%(mark)s{"requests":%%d,"seconds":%%.6f,"p50_ms":%%.4f,"p99_ms":%%.4f,"errors":%%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, errors))
end
"""


def _lua_string(value: str | bytes | None) -> str:
    if value is None:
        return "nil"
    text = value.decode() if isinstance(value, bytes) else value
    level = "=" * 4
    if f"]{level}]" in text:
        raise ValueError("the text closes a Lua long bracket")
    return f"[{level}[{text}]{level}]"


def _run_wrk(
    tmp: Path,
    base_url: str,
    requests: Sequence[Request],
    headers: Mapping[str, str],
    connections: int,
    seconds: float,
    threads: int,
) -> Load:
    script = tmp / "load.lua"
    script.write_text(
        _LUA
        % {
            "requests": ",\n".join(
                f"  {{{_lua_string(r.method)}, {_lua_string(r.path)}, {_lua_string(r.body)}}}"
                for r in requests
            ),
            "headers": "\n".join(
                f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()
            ),
            "mark": MARK,
        }
    )
    threads = max(1, min(threads, connections))
    command = [
        str(wrk_path()),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base_url,
    ]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise LoadError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return _parse(done.stdout, "wrk")


# -- the Python fallback --------------------------------------------------------------------


def _run_python(
    tmp: Path,
    base_url: str,
    requests: Sequence[Request],
    headers: Mapping[str, str],
    connections: int,
    seconds: float,
) -> Load:
    spec = tmp / "load.json"
    spec.write_text(
        json.dumps(
            {
                "url": base_url,
                "requests": [
                    [r.method, r.path, None if r.body is None else r.body.decode()]
                    for r in requests
                ],
                "headers": dict(headers),
                "connections": connections,
                "seconds": seconds,
            }
        )
    )
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), environment.get("PYTHONPATH", "")) if p
    )
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.load", str(spec)],
        check=False,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        cwd=ROOT,
        env=environment,
    )
    if done.returncode != 0:
        raise LoadError(f"the load generator failed:\n{done.stdout}\n{done.stderr}")
    return _parse(done.stdout, "python")


def _encode(request: list[Any], host: str, headers: Mapping[str, str]) -> bytes:
    method, path, body = request
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    payload = b"" if body is None else body.encode()
    if body is not None:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _connection(
    number: int,
    host: str,
    port: int,
    prepared: list[bytes],
    start: asyncio.Event,
    stop_at: list[float],
    latencies: list[int],
    counts: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = number * 7919
    clock = time.perf_counter_ns
    await start.wait()
    try:
        while time.perf_counter() < stop_at[0]:
            index += 1
            began = clock()
            writer.write(prepared[index % len(prepared)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(clock() - began)
            counts[0] += 1
            if head[9:10] != b"2":
                counts[1] += 1
    except (OSError, asyncio.IncompleteReadError):
        counts[1] += 1
    finally:
        writer.close()


async def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    prepared = [_encode(r, f"{host}:{port}", spec["headers"]) for r in spec["requests"]]
    latencies: list[int] = []
    counts = [0, 0]  # requests, errors
    start = asyncio.Event()
    stop_at = [0.0]
    tasks = [
        asyncio.create_task(_connection(n, host, port, prepared, start, stop_at, latencies, counts))
        for n in range(spec["connections"])
    ]
    await asyncio.sleep(0.2)  # let the connections open
    began = time.perf_counter()
    stop_at[0] = began + spec["seconds"]
    start.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    latencies.sort()

    def percentile(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] / 1e6

    return {
        "requests": counts[0],
        "seconds": elapsed,
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        "errors": counts[1],
    }


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    try:  # optional, and typed or not depending on the version installed
        fast: ModuleType | None = importlib.import_module("uvloop")
    except ImportError:
        fast = None
    result = fast.run(_generate(spec)) if fast is not None else asyncio.run(_generate(spec))
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
