"""Child processes of a benchmark: the fake Bot API, bot processes and one-shot measurers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TOKEN = "7000002:bench-token"
LOOPBACK = "127.0.0.1"


def child_env(**settings: str) -> dict[str, str]:
    """Return an environment for a child: no operator settings leak in, only `settings`.

    This checkout comes first on the child's PYTHONPATH (whatever else was on it stays after),
    so a child imports the same `bot` and `bench` as this process, not an installed copy.
    """
    names = {name.upper() for name in Settings.model_fields}
    env = {key: value for key, value in os.environ.items() if key not in names}
    inherited = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path]
    path = os.pathsep.join(dict.fromkeys([str(ROOT), *inherited]))
    env.update(PYTHONPATH=path, PYTHONUNBUFFERED="1", TELEGRAM_BOT_TOKEN=TOKEN)
    env.update(settings)
    return env


def logged_errors(path: Path) -> list[str]:
    """Return the ERROR (and CRITICAL) lines of a bot log."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line]


def tail(path: Path, lines: int = 25) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


async def stop_process(process: asyncio.subprocess.Process, grace: float = 20.0) -> None:
    """Ask a child to stop (SIGTERM), and kill it if it has not after `grace` seconds."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


class FakeApi:
    """The fake Bot API (`bench.fakeapi`) as a separate process, with its stats endpoint."""

    def __init__(
        self,
        workdir: Path,
        *,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        latency: float = 0.0,
    ) -> None:
        self.workdir = workdir
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.latency = latency
        self.log_file = workdir / f"fakeapi-{time.monotonic_ns()}.log"
        self._process: asyncio.subprocess.Process | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.control_port = 0

    @property
    def api_root(self) -> str:
        """Return what TELEGRAM_API_BASE_URL should be for the bot."""
        return f"http://{LOOPBACK}:{self.port}"

    async def __aenter__(self) -> Self:
        args = ["-m", "bench.fakeapi", "--token", TOKEN]
        if self.global_rate is not None:
            args += ["--global-rate", str(self.global_rate)]
        if self.per_chat_rate is not None:
            args += ["--per-chat-rate", str(self.per_chat_rate)]
        if self.latency:
            args += ["--latency", str(self.latency)]
        with self.log_file.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                PYTHON,
                *args,
                cwd=ROOT,
                env=child_env(),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        assert self._process.stdout is not None
        try:
            line = await asyncio.wait_for(self._process.stdout.readline(), 30)
            ports = json.loads(line)
        except (TimeoutError, ValueError):
            await stop_process(self._process)
            raise RuntimeError(f"the fake Bot API did not start:\n{tail(self.log_file)}") from None
        self.port, self.control_port = int(ports["port"]), int(ports["control_port"])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._process is not None:
            await stop_process(self._process)

    async def stats(self, *, per_chat: bool = False) -> dict[str, Any]:
        """Return the fake's counters (accepted sends, 429s, per-chat counts on request)."""
        assert self._session is not None
        url = f"http://{LOOPBACK}:{self.control_port}/stats" + ("?per_chat=1" if per_chat else "")
        async with self._session.get(url) as response:
            data: dict[str, Any] = await response.json()
            return data

    async def inject(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Have people write to the bot (a backlog of updates; see `bench.fakeapi.inject`)."""
        assert self._session is not None
        url = f"http://{LOOPBACK}:{self.control_port}/inject"
        async with self._session.post(url, json=plan) as response:
            response.raise_for_status()
            data: dict[str, Any] = await response.json()
            return data

    async def reset(self) -> None:
        """Start counting afresh."""
        assert self._session is not None
        async with self._session.post(f"http://{LOOPBACK}:{self.control_port}/reset") as response:
            response.raise_for_status()

    async def wait_for_sent(
        self,
        target: int,
        *,
        within: float,
        stall: float = 60.0,
        on_progress: Callable[[dict[str, Any]], Awaitable[bool]] | None = None,
    ) -> dict[str, Any]:
        """Poll until `target` sends were accepted, nothing moved for `stall` s, or `within` s.

        `on_progress` may return True to stop waiting early (a crash test kills the bot then).
        """
        deadline = time.monotonic() + within
        last_sent, last_change = -1, time.monotonic()
        stats = await self.stats()
        for _ in range(int(within / 0.2) + 1):
            stats = await self.stats()
            now = time.monotonic()
            if stats["sent"] != last_sent:
                last_sent, last_change = stats["sent"], now
            if stats["sent"] >= target or now >= deadline or now - last_change > stall:
                break
            if on_progress is not None and await on_progress(stats):
                break
            await asyncio.sleep(0.2)
        return stats


@dataclass
class BotProcess:
    """`python -m bot run` (long polling plus the nudge tick), logging to a file."""

    process: asyncio.subprocess.Process
    log_file: Path

    @classmethod
    async def start(
        cls,
        workdir: Path,
        env: Mapping[str, str],
        name: str = "bot",
        module: tuple[str, ...] = ("bot", "run"),
    ) -> BotProcess:
        """Start the bot in `workdir` (so no .env of the checkout is read)."""
        log_file = workdir / f"{name}-{time.monotonic_ns()}.log"
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                PYTHON,
                "-m",
                *module,
                cwd=workdir,
                env=dict(env),
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, log_file)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last commit, like a machine losing power."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        """Stop the bot the way an operator does (SIGTERM)."""
        await stop_process(self.process)


@contextlib.asynccontextmanager
async def bot_running(
    workdir: Path, env: Mapping[str, str], name: str = "bot"
) -> AsyncIterator[BotProcess]:
    """Run the bot for the duration of a block, stopping it afterwards."""
    bot = await BotProcess.start(workdir, env, name)
    try:
        yield bot
    finally:
        await bot.stop()


async def _output_within(
    process: asyncio.subprocess.Process, within: float, what: str, log_file: Path | None = None
) -> bytes:
    """Wait for a child's output; stop it and fail if it takes longer than `within` seconds."""
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        await stop_process(process, grace=5)
        detail = f":\n{tail(log_file)}" if log_file is not None else ""
        raise RuntimeError(f"{what} took longer than {within:.0f}s{detail}") from None
    return output


async def run_json(
    module: str, args: list[str], *, env: Mapping[str, str], workdir: Path, within: float
) -> dict[str, Any]:
    """Run `python -m module args` and return the JSON object it prints last."""
    log_file = workdir / f"{module.rsplit('.', 1)[-1]}-{time.monotonic_ns()}.log"
    with log_file.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            module,
            *args,
            cwd=workdir,
            env=dict(env),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
        output = await _output_within(process, within, module, log_file)
    if process.returncode != 0:
        raise RuntimeError(f"{module} failed ({process.returncode}):\n{tail(log_file)}")
    lines = [line for line in output.decode().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} printed no result:\n{tail(log_file)}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def run_bot_command(
    args: list[str], *, env: Mapping[str, str], workdir: Path, within: float
) -> str:
    """Run `python -m bot args` to the end and return what it printed (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bot",
        *args,
        cwd=workdir,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = await _output_within(process, within, f"python -m bot {' '.join(args)}")
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"python -m bot {' '.join(args)} failed:\n{text[-3000:]}")
    return text
