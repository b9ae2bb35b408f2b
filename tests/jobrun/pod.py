"""Run one rendered agent Pod for real, the way the kubelet would, outside Kubernetes.

Started by `tests/jobrun/harness.py` as root inside fresh mount and network namespaces
(`unshare --mount --net`), with a JSON description of the Pod (its spec exactly as the Job carries it)
and of the world around it. It then:

- builds the "image": an overlay of this machine's root (git, ssh, jq, tini, node) with the agent
  image's user `agent` (uid 1000, home /home/agent) in /etc/passwd, the pinned `claude` CLI at
  /usr/local/bin/claude as `npm install -g` would put it, and stub MCP servers where a run asks;
- stands in for github.com: an sshd on 127.0.0.1:22 of this network namespace, reached as
  `github.com` through /etc/hosts, whose host key is trusted through the image's system-wide
  known_hosts (the script pins GitHub's real keys per user; ssh accepts a key from either file), and
  serving bare repositories to the `git` user through git-shell;
- starts the local Messages API (`messages_api.py`) on 127.0.0.1:8765;
- runs each container in its own mount and PID namespace, chrooted into the image, with exactly its
  volumeMounts bound at their paths (a subPath as a single file, readOnly read-only), its env
  (secretKeyRef resolved), workingDir and the Pod's runAsUser/runAsGroup, no new privileges and no
  capabilities. The native sidecar (an init container with restartPolicy Always) starts first and
  must pass its startupProbe; then the agent container runs its command, the command's first
  program (tini) being PID 1 as in a container;
- optionally stops the agent container the way the kubelet does at a deadline: SIGTERM to PID 1 once
  a given file appears, SIGKILL after the Pod's grace period.

It writes what the kubelet would report: the exit code, the termination message, stdout and stderr.

Run: unshare --mount --net --fork python3 pod.py DESCRIPTION.json
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AGENT_UID = 1000
GIT_UID = 2000
API_PORT = 8765
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEVICES = ("null", "zero", "random", "urandom", "full", "tty")
TRACER = "/usr/local/lib/jobrun/trace.sh"
PROGRAMS_LOG = "/tmp/jobrun-programs"
# Through BASH_ENV, every bash the scripts start (container.sh, the hooks) notes the first word of each
# simple command it runs from /config/; the harness then tells programs from builtins and functions.
TRACER_SCRIPT = f"""\
case "$0" in
  /config/*)
    set -o functrace
    trap 'printf "%s\\n" "${{BASH_COMMAND%%[[:space:]]*}}" >>{PROGRAMS_LOG}' DEBUG
    ;;
esac
"""


def sh(*command: str) -> None:
    subprocess.run(command, check=True)


class Pod:
    def __init__(self, description: dict[str, Any]) -> None:
        self.d = description
        self.state = Path(description["state"])
        self.root = self.state / "image" / "root"
        self.spec: dict[str, Any] = description["pod"]
        self.volumes: dict[str, str] = description["volumes"]
        self.background: list[subprocess.Popen[bytes]] = []

    # --- the image -----------------------------------------------------------------------------

    def build_image(self) -> None:
        sh("mount", "--make-rprivate", "/")
        sh("ip", "link", "set", "lo", "up")
        image = self.state / "image"
        image.mkdir(parents=True, exist_ok=True)
        sh("mount", "-t", "tmpfs", "tmpfs", str(image))
        for part in ("upper", "work", "root"):
            (image / part).mkdir()
        options = f"lowerdir=/,upperdir={image}/upper,workdir={image}/work"
        sh("mount", "-t", "overlay", "overlay", "-o", options, str(self.root))
        for path in ("tmp", "run", "dev"):
            sh(
                "mount",
                "-t",
                "tmpfs",
                "-o",
                "mode=1777" if path == "tmp" else "mode=755",
                "tmpfs",
                str(self.root / path),
            )
        for device in DEVICES:
            (self.root / "dev" / device).touch()
            sh("mount", "--bind", f"/dev/{device}", str(self.root / "dev" / device))
        for name, target in (
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ):
            (self.root / "dev" / name).symlink_to(target)
        self._users()
        self._claude()
        tracer = self.root / TRACER.lstrip("/")
        tracer.parent.mkdir(parents=True, exist_ok=True)
        tracer.write_text(TRACER_SCRIPT)
        for name in self.d.get("mcp_stubs", []):
            stub = self.root / "usr/local/bin" / name
            stub.write_text(Path(self.d["mcp_stub_source"]).read_text())
            stub.chmod(0o755)

    def _users(self) -> None:
        etc = self.root / "etc"
        ours = {"agent", "git"}
        passwd = [
            line
            for line in (etc / "passwd").read_text().splitlines()
            if line.split(":")[0] not in ours and line.split(":")[2] not in (str(AGENT_UID), str(GIT_UID))
        ]
        passwd += [
            f"agent:x:{AGENT_UID}:{AGENT_UID}:agent:/home/agent:/bin/bash",
            f"git:x:{GIT_UID}:{GIT_UID}:git:/srv/git:/usr/bin/git-shell",
        ]
        (etc / "passwd").write_text("\n".join(passwd) + "\n")
        group = [
            line
            for line in (etc / "group").read_text().splitlines()
            if line.split(":")[0] not in ours and line.split(":")[2] not in (str(AGENT_UID), str(GIT_UID))
        ]
        group += [f"agent:x:{AGENT_UID}:", f"git:x:{GIT_UID}:"]
        (etc / "group").write_text("\n".join(group) + "\n")
        (etc / "hosts").write_text("127.0.0.1 localhost github.com\n::1 localhost\n")

    def _claude(self) -> None:
        package = self.root / "usr/local/lib/node_modules/@anthropic-ai/claude-code"
        package.mkdir(parents=True)
        sh("mount", "--bind", "-o", "ro", self.d["claude_package"], str(package))
        link = self.root / "usr/local/bin/claude"
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("../lib/node_modules/@anthropic-ai/claude-code/cli.js")

    # --- github.com and the Messages API ------------------------------------------------------

    def start_github(self) -> None:
        ssh = self.root / "etc/ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        key = ssh / "jobrun_host_ed25519_key"
        key.write_text(self.d["github"]["host_key"])
        key.chmod(0o600)
        public = self.d["github"]["host_public_key"]
        (ssh / "ssh_known_hosts").write_text(f"github.com {public}\n")
        keys = ssh / "jobrun_authorized_keys"
        keys.mkdir()
        (keys / "git").write_text("\n".join(self.d["github"]["authorized_keys"]) + "\n")
        (ssh / "sshd_config_jobrun").write_text(
            "Port 22\nListenAddress 127.0.0.1\nHostKey /etc/ssh/jobrun_host_ed25519_key\n"
            "AuthorizedKeysFile /etc/ssh/jobrun_authorized_keys/%u\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin no\nPidFile none\n"
            "LogLevel ERROR\nAllowUsers git\n"
        )
        (self.root / "run/sshd").mkdir(mode=0o755)
        srv = self.root / "srv/git"
        srv.mkdir(parents=True, exist_ok=True)
        sh("mount", "--bind", self.d["github"]["repositories"], str(srv))
        log = (self.state / "sshd.log").open("wb")
        sshd = subprocess.Popen(
            ["chroot", str(self.root), "/usr/sbin/sshd", "-D", "-e", "-f", "/etc/ssh/sshd_config_jobrun"],
            stdout=log,
            stderr=log,
        )
        self.background.append(sshd)
        self._wait_for_port(22, "sshd")

    def start_messages_api(self) -> None:
        log = (self.state / "messages-api.log").open("wb")
        api = subprocess.Popen(
            [self.d["python"], self.d["messages_api"], self.d["turns"], str(API_PORT)], stdout=log, stderr=log
        )
        self.background.append(api)
        self._wait_for_port(API_PORT, "the Messages API")

    @staticmethod
    def _wait_for_port(port: int, what: str) -> None:
        import socket

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise SystemExit(f"{what} did not start")

    # --- containers ----------------------------------------------------------------------------

    def _env(self, container: dict[str, Any], extra: dict[str, str]) -> list[str]:
        env = {"PATH": BASE_PATH, "HOSTNAME": "jobrun"}
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = self.d["secrets"][ref["name"]][ref["key"]]
        env.update(extra)
        return [f"{name}={value}" for name, value in env.items()]

    def _container_script(
        self, container: dict[str, Any], command: list[str], extra_env: dict[str, str]
    ) -> str:
        """The shell script that becomes the container, run in its fresh mount and PID namespaces:
        volumes are first bound at a staging path inside the image, then, chrooted, at their
        mountPath, so that paths resolve inside the image as a container runtime resolves them
        (/var/run is a symlink to /run in Debian)."""
        staging = f"/.jobrun/{container['name']}"
        outside, inside = [], []
        mounts = [
            (
                self.volumes[m["name"]] + (f"/{m['subPath']}" if "subPath" in m else ""),
                m["mountPath"],
                m.get("readOnly", False),
            )
            for m in container.get("volumeMounts", [])
        ]
        if container.get("terminationMessagePath"):
            mounts.append((self.d["termination_log"], container["terminationMessagePath"], False))
        for index, (source, target, read_only) in enumerate(mounts):
            stage = f"{staging}/{index}"
            is_dir = os.path.isdir(source)
            make = (
                f"mkdir -p {shlex.quote(str(self.root) + stage)}"
                if is_dir
                else (
                    f"mkdir -p {shlex.quote(str(self.root) + staging)} && touch {shlex.quote(str(self.root) + stage)}"
                )
            )
            outside += [make, f"mount --bind {shlex.quote(source)} {shlex.quote(str(self.root) + stage)}"]
            quoted = shlex.quote(target)
            make_target = (
                f"mkdir -p {quoted}" if is_dir else f'mkdir -p "$(dirname {quoted})" && touch {quoted}'
            )
            inside += [make_target, f"mount --bind {stage} {quoted}"]
            if read_only:
                inside.append(f"mount -o remount,bind,ro {quoted}")
        inside.append("mount -t proc proc /proc")
        security = self.spec.get("securityContext", {})
        uid, gid = security.get("runAsUser", 0), security.get("runAsGroup", 0)
        groups = sorted({gid, security.get("fsGroup", gid)})
        setpriv = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            f"--groups={','.join(map(str, groups))}",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]
        workdir = container.get("workingDir", "/")
        run = [
            "/usr/bin/env",
            "-i",
            *self._env(container, extra_env),
            *setpriv,
            "--",
            "/bin/sh",
            "-c",
            'cd "$0" && exec "$@"',
            workdir,
            *command,
        ]
        inner = "set -e\n" + "\n".join(inside) + "\nexec " + shlex.join(run) + "\n"
        return (
            "set -e\n"
            + "\n".join(outside)
            + "\nexec "
            + shlex.join(["chroot", str(self.root), "/bin/sh", "-c", inner])
            + "\n"
        )

    def _argv(self, container: dict[str, Any], command: list[str], extra_env: dict[str, str]) -> list[str]:
        script = self._container_script(container, command, extra_env)
        return ["unshare", "--mount", "--pid", "--fork", "--", "/bin/sh", "-c", script]

    def start_sidecars(self) -> None:
        for container in self.spec.get("initContainers", []):
            if container.get("restartPolicy") != "Always":
                raise SystemExit(f"init container {container['name']}: only native sidecars are supported")
            log = (self.state / f"{container['name']}.log").open("wb")
            process = subprocess.Popen(
                self._argv(container, container["command"], {}), stdout=log, stderr=log
            )
            self.background.append(process)
            probe = container["startupProbe"]
            self._wait_for_probe(container, probe, process)

    def _wait_for_probe(
        self, container: dict[str, Any], probe: dict[str, Any], process: subprocess.Popen[bytes]
    ) -> None:
        """The kubelet runs an exec probe inside the container; here, in a sibling of it with the
        same mounts and env (the socket it checks is on a shared volume)."""
        for _ in range(probe.get("failureThreshold", 3) * 10):
            if process.poll() is not None:
                raise SystemExit(f"sidecar {container['name']} exited with {process.returncode}")
            check = subprocess.run(self._argv(container, probe["exec"]["command"], {}), capture_output=True)
            if check.returncode == 0:
                return
            time.sleep(probe.get("periodSeconds", 10) / 10)
        raise SystemExit(f"sidecar {container['name']} never passed its startup probe")

    def run_agent(self) -> dict[str, Any]:
        container = self.spec["containers"][0]
        stdout = open(self.d["stdout"], "wb")  # noqa: SIM115 - handed to the child
        stderr = open(self.d["stderr"], "wb")  # noqa: SIM115
        started = time.monotonic()
        process = subprocess.Popen(
            self._argv(container, container["command"], self.d["extra_env"]), stdout=stdout, stderr=stderr
        )
        stop = self.d.get("stop_when_file")
        grace = self.spec.get("terminationGracePeriodSeconds", 30)
        stopped_at = None
        deadline = started + self.d["timeout"]
        while process.poll() is None:
            now = time.monotonic()
            if stop and stopped_at is None and os.path.exists(stop):
                self._signal_pid1(process.pid, signal.SIGTERM)
                stopped_at = now
            if (stopped_at is not None and now > stopped_at + grace) or now > deadline:
                self._signal_pid1(process.pid, signal.SIGKILL)
                process.wait()
                break
            time.sleep(0.05)
        return {
            "exit_code": process.returncode,
            "seconds": round(time.monotonic() - started, 2),
            "stopped_after": None if stopped_at is None else round(stopped_at - started, 2),
            "killed": process.returncode is not None and process.returncode < 0,
        }

    @staticmethod
    def _signal_pid1(unshare_pid: int, sig: signal.Signals) -> None:
        """The container's PID 1 is unshare's child: the kubelet signals that process."""
        try:
            children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
        except FileNotFoundError:
            return
        for child in children:
            os.kill(int(child), sig)

    def stop_all(self) -> None:
        for process in reversed(self.background):
            # The container's PID 1 first: its namespace goes with it. (unshare's --kill-child does
            # not survive the change of user inside.)
            self._signal_pid1(process.pid, signal.SIGKILL)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    description = json.loads(Path(sys.argv[1]).read_text())
    pod = Pod(description)
    outcome: dict[str, Any] = {}
    try:
        pod.build_image()
        pod.start_github()
        pod.start_messages_api()
        pod.start_sidecars()
        outcome = pod.run_agent()
    except SystemExit as exc:
        outcome = {"harness_error": str(exc)}
    finally:
        pod.stop_all()
        programs = pod.root / PROGRAMS_LOG.lstrip("/")
        if programs.exists():
            (pod.state / "programs").write_text(programs.read_text())
    Path(description["outcome"]).write_text(json.dumps(outcome))


if __name__ == "__main__":
    main()
