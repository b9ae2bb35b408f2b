"""`orchestrator-bot render`: what a run would get, for humans, from the example manifests."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from bot.core.render import build_context, render_files, template_key
from bot.core.taskconfig import parse_task_config
from bot.render_cli import main, register
from bot.templates import default_templates_dir, load_template_sources
from tests.core.conftest import TASK_CONFIG_YAML

EXAMPLES = Path(__file__).resolve().parent.parent / "k8s" / "examples"
CODERUN = str(EXAMPLES / "coderun.yaml")
DOCSRUN = str(EXAMPLES / "docsrun.yaml")


def test_register_adds_render_with_help() -> None:
    parser = argparse.ArgumentParser(prog="orchestrator-bot")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["render", "run.yaml", "--out", "out"])
    assert args.run == "run.yaml"
    assert args.out == Path("out")
    assert callable(args.handler)


def test_help_explains_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    text = capsys.readouterr().out
    usage = " ".join(text.split("\n\n", 1)[0].split())
    assert (
        usage
        == "usage: orchestrator-bot render [-h] [--config CONFIG.yaml] [--templates DIR] [--out DIR] RUN.yaml"
    )
    assert "orchestrator-bot render k8s/examples/coderun.yaml" in text


def test_code_example_renders_configmap_claim_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", CODERUN]) == 0
    captured = capsys.readouterr()
    objects = list(yaml.safe_load_all(captured.out))
    assert [o["kind"] for o in objects] == ["ConfigMap", "PersistentVolumeClaim", "Job"]
    assert objects[0]["metadata"]["name"] == "code-5-trader-8d1c0f4a2b-files"
    assert re.fullmatch(r"workspace-trader-[0-9a-f]{16}", objects[1]["metadata"]["name"])
    assert objects[2]["metadata"]["name"] == "code-5-trader-8d1c0f4a2b"
    for obj in objects:
        kubernetes_validate.validate(obj, "1.33.0", strict=True)
    assert "no metadata.uid" in captured.err
    assert "no --config given, using " in captured.err


def test_docs_example_renders_configmap_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", DOCSRUN]) == 0
    kinds = [o["kind"] for o in yaml.safe_load_all(capsys.readouterr().out)]
    assert kinds == ["ConfigMap", "Job"]


def test_out_writes_the_files_and_manifests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(TASK_CONFIG_YAML)
    assert main(["render", CODERUN, "--config", str(config), "--out", str(tmp_path / "out")]) == 0
    assert "wrote ConfigMap code-5-trader-8d1c0f4a2b-files" in capsys.readouterr().out

    run = yaml.safe_load(Path(CODERUN).read_text())
    run["metadata"]["uid"] = "x"
    context = build_context(run, parse_task_config(TASK_CONFIG_YAML))
    expected = render_files("code", load_template_sources(default_templates_dir()), context)
    written = {p.name: p.read_text() for p in (tmp_path / "out" / "files").iterdir()}
    assert written == expected
    job = yaml.safe_load((tmp_path / "out" / "job.yaml").read_text())
    assert job["spec"]["activeDeadlineSeconds"] == 3600
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "files",
        "configmap.yaml",
        "persistentvolumeclaim.yaml",
        "job.yaml",
    }


def test_templates_from_a_configmap_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path, text in load_template_sources(default_templates_dir()).items():
        (tmp_path / template_key(path)).write_text(text.replace("# Service", "# Mounted service"))
    assert main(["render", CODERUN, "--templates", str(tmp_path)]) == 0
    assert "# Mounted service trader" in capsys.readouterr().out


def test_run_from_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "render", "-"],
        input=Path(DOCSRUN).read_text(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "docs-3f2a9c1e7b-files" in done.stdout


@pytest.mark.parametrize(
    ("run_text", "config_text", "message"),
    [
        pytest.param(None, None, "No such file or directory: ", id="missing run file"),
        pytest.param(
            "kind: DocsRun\nmetadata: {name: docs-1, namespace: n}\nspec: {}\n",
            None,
            "invalid spec: ",
            id="bad spec",
        ),
        pytest.param("a: 1\n---\nb: 2\n", None, "exactly one YAML object, found 2", id="two objects"),
        pytest.param("a: [\n", None, "not valid YAML", id="not yaml"),
        pytest.param(None, "job: {}\n", "job.activeDeadlineSeconds: is required", id="bad config"),
        pytest.param(
            None, "kind: ConfigMap\ndata: {}\n", "has no data.config.yaml", id="configmap without config"
        ),
    ],
)
def test_errors_are_one_clear_line(
    run_text: str | None,
    config_text: str | None,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run.yaml"
    if run_text is not None:
        run.write_text(run_text)
    elif config_text is not None:
        run = Path(DOCSRUN)
    argv = ["render", str(run)]
    if config_text is not None:
        (tmp_path / "config.yaml").write_text(config_text)
        argv += ["--config", str(tmp_path / "config.yaml")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("orchestrator-bot render: ")
    assert message in err


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.render_cli", "render", DOCSRUN],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "kind: Job" in done.stdout
