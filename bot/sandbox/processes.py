"""The bot's roles as real processes against the local APIs, for reliability tests and soaks.

    serve = BotProcess.serve(stack_environment(stack), log_path)
    serve.start()
    await serve.wait_ready(session)
    stack.gh.webhook_url = serve.webhook_url     # GitHub now delivers to the process
    serve.kill()                                  # SIGKILL, no goodbye
    serve.start()                                 # same port, same log file

Each process is the `orchestrator-bot` console script (or `python -m bot`), configured only through the
environment as in a cluster; its JSON log lines go to one file that survives restarts, and its resident
memory can be read from /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import aiohttp

from bot.sandbox.stack import NAMESPACE, WEBHOOK_SECRET, Stack

Role = Literal["serve", "controller"]


def free_port() -> int:
    """A port nobody listens on right now (the process binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_command() -> list[str]:
    """`orchestrator-bot` from this interpreter's environment, else `python -m bot`."""
    script = Path(sys.executable).with_name("orchestrator-bot")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bot"]


def stack_environment(stack: Stack, **overrides: str) -> dict[str, str]:
    """The environment a role needs to talk to the stack's local Kubernetes and GitHub APIs."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "GITHUB_APP_ID": str(stack.gh.app_id),
        "GITHUB_PRIVATE_KEY": stack.gh.private_key_pem,
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": stack.gh.url,
        "KUBECONFIG": str(stack.kube.kubeconfig_path),
        "ORCHESTRATOR_NAMESPACE": NAMESPACE,
        "ORCHESTRATOR_LOG_LEVEL": "INFO",
    }
    return {**env, **overrides}


@dataclass
class BotProcess:
    role: Role
    env: dict[str, str]
    log_path: Path
    arguments: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @classmethod
    def serve(cls, env: dict[str, str], log_path: Path, port: int | None = None) -> BotProcess:
        chosen = port or free_port()
        return cls("serve", env, log_path, ["--host", "127.0.0.1", "--port", str(chosen)], chosen)

    @classmethod
    def controller(
        cls, env: dict[str, str], log_path: Path, identity: str, lease_seconds: int = 3
    ) -> BotProcess:
        chosen = free_port()
        arguments = [
            "--identity",
            identity,
            "--lease-duration",
            str(lease_seconds),
            "--health-port",
            str(chosen),
        ]
        return cls("controller", env, log_path, arguments, chosen)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}/webhook"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.role} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*bot_command(), self.role, *self.arguments],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )

    async def wait_ready(self, session: aiohttp.ClientSession, within: float = 30.0) -> None:
        """Until `serve` answers /healthz (the process is up and listening)."""
        deadline = time.monotonic() + within
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.role} exited with {self.process.returncode}:\n{self.logs()[-2000:]}"
                )
            try:
                async with session.get(f"{self.base_url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.role} did not become healthy within {within} s")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no draining, connections cut mid-request."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def close(self) -> None:
        self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait(timeout=10)

    def rss_bytes(self) -> int:
        """Resident memory now (VmRSS from /proc/<pid>/status; Linux only)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc status")

    def peak_rss_bytes(self) -> int:
        """The high-water mark of resident memory (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc status")

    def logs(self) -> str:
        if self._log is not None:
            self._log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
