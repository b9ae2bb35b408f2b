"""The Probot 14 contender: an app with an `issue_comment` handler that parses the command line.

The app and its package.json are written to a directory outside the repository and Probot is installed
there with `npm install` at benchmark time (node_modules is never committed); an install that already
holds the pinned version is reused. What BENCHMARKING.md found about Probot 14 is followed here:
`probot run` ignores `-p` (PORT is set instead), WEBHOOK_SECRET must be set (it silently falls back to
"development"), and a fake App id with a throw-away RSA key lets it start without network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROBOT_VERSION = "14.3.2"
WEBHOOK_PATH = "/api/github/webhooks"
FAKE_APP_ID = "1"
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "orchestrator-bot-benchmarks" / f"probot-{PROBOT_VERSION}"

PACKAGE_JSON = {
    "name": "orchestrator-bot-benchmark-probot",
    "private": True,
    "type": "module",
    "dependencies": {"probot": PROBOT_VERSION},
}

# The same work our intake does before it decides: find the first `/code` line of the comment and read
# its task id and flags. Nothing is sent to GitHub (Probot answers only after the handler returns).
APP_JS = r"""// issue_comment: find the first `/code` line and parse its arguments, then return.
const COMMAND = /^\/code(?:\s+(.*))?$/i;

export function parseCode(body) {
  for (const raw of body.split(/\r?\n/)) {
    const match = COMMAND.exec(raw.trim());
    if (!match) continue;
    const words = (match[1] || "").split(/\s+/).filter(Boolean);
    const args = { taskId: null, service: null, model: null };
    for (let i = 0; i < words.length; i++) {
      if (words[i] === "--service") args.service = words[++i] ?? null;
      else if (words[i] === "--model") args.model = words[++i] ?? null;
      else if (/^\d+$/.test(words[i])) args.taskId = Number(words[i]);
    }
    return args;
  }
  return null;
}

export default (app) => {
  app.on("issue_comment.created", async (context) => {
    parseCode(context.payload.comment.body || "");
  });
};
"""


class ProbotUnavailable(Exception):
    """node/npm missing or the install failed; the intake benchmark runs without Probot."""


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def prepare(workdir: Path = DEFAULT_WORKDIR) -> Path:
    """Write the app and install Probot (once); returns the directory to run `probot run` in."""
    if not node_available():
        raise ProbotUnavailable("node and npm are needed for the Probot contender")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "package.json").write_text(json.dumps(PACKAGE_JSON, indent=2) + "\n")
    (workdir / "app.js").write_text(APP_JS)
    installed = workdir / "node_modules" / "probot" / "package.json"
    if not installed.exists() or json.loads(installed.read_text()).get("version") != PROBOT_VERSION:
        npm = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if npm.returncode != 0:
            raise ProbotUnavailable(f"npm install probot@{PROBOT_VERSION} failed: {npm.stderr[-500:]}")
    key = workdir / "app.pem"
    if not key.exists():
        key.write_text(throwaway_private_key())
        key.chmod(0o600)
    return workdir


def throwaway_private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def command(workdir: Path) -> list[str]:
    return ["node", str(workdir / "node_modules" / "probot" / "bin" / "probot.js"), "run", "./app.js"]


def environment(workdir: Path, port: int, secret: str, log_level: str) -> dict[str, str]:
    return {
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "APP_ID": FAKE_APP_ID,
        "PRIVATE_KEY_PATH": str(workdir / "app.pem"),
        "WEBHOOK_SECRET": secret,
        "LOG_LEVEL": log_level.lower(),
        "LOG_FORMAT": "json",
        "NODE_ENV": "production",
    }
