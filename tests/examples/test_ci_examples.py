"""Runs the CI kit as a pipeline would, against the sandbox: the GitHub Action's steps (their
`run` scripts, with the inputs the example workflow gives them), the example workflow's own
steps, the GitLab CI jobs and the drift cron job, in the order a team meets them: pull
request, merge, nightly cron.

What cannot run here is replaced at the edge only: `gh` (the GitHub API) by a recorder that
answers canned JSON through the real `jq`, the artifact upload and download by copying the
files. Everything the pipeline runs of the reconciler runs for real.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from reconciler.cli import main
from tests.examples.test_gitlab_note import TOKEN as NOTE_TOKEN
from tests.examples.test_gitlab_note import FakeGitLab, ServedGitLab
from tests.served import ServedSandbox

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
WORKFLOW = yaml.safe_load((CI / "github-actions.yml").read_text())
GITLAB = yaml.safe_load((CI / "gitlab-ci.yml").read_text())

# Credentials as a pipeline gives them: read-only for plans, writing ones for apply. With a
# `sandbox:` url the sandbox checks them like the real servers would.
PLAN_ENV = {
    "KUBIYA_TOKEN": "sandbox-kubiya-token",
    "ORKES_KEY_ID": "sandbox-key-id",
    "ORKES_KEY_SECRET": "sandbox-key-secret",
    "CONSOLE_API_KEY": "sk_sandbox_readonly",
}
APPLY_ENV = {**PLAN_ENV, "CONSOLE_API_KEY": "sk_sandbox"}

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh answers through jq")

FAKE_GH = r'''#!{python}
"""gh api, answered from $FAKE_GH_ROUTES ("METHOD path" -> JSON) and logged to $FAKE_GH_LOG."""
import json, os, subprocess, sys
args = sys.argv[1:]
assert args[0] == "api", args
method, jq, body, rest = "GET", None, None, []
i = 1
while i < len(args):
    if args[i] == "--method":
        method = args[i + 1]; i += 2
    elif args[i] == "--jq":
        jq = args[i + 1]; i += 2
    elif args[i] == "--input":
        body = open(args[i + 1]).read(); i += 2
    elif args[i] == "--paginate":
        i += 1
    else:
        rest.append(args[i]); i += 1
(path,) = rest
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps({{"method": method, "path": path, "body": body}}) + "\n")
routes = json.load(open(os.environ["FAKE_GH_ROUTES"]))
key = f"{{method}} {{path}}"
if key not in routes:
    sys.stderr.write(f"gh: Not Found (HTTP 404): {{key}}\n")
    sys.exit(1)
text = json.dumps(routes[key])
if jq:
    text = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True, check=True).stdout
sys.stdout.write(text)
'''


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


class Pipeline:
    """A checkout with `reconciler` (this interpreter's package) and a fake `gh` on PATH, and
    the files a runner provides (step outputs, job summary)."""

    def __init__(self, root: Path, served: ServedSandbox) -> None:
        self.root = root
        self.served = served
        (root / "integrations").mkdir()
        text = (ROOT / "examples" / "quickstart.yaml").read_text()
        # The example reads credentials from references, as a real setup does.
        text = text.replace('    kind: kubiya\n    url: "sandbox:"\n', '    kind: kubiya\n    url: "sandbox:"\n    token: ${env:KUBIYA_TOKEN}\n')
        text = text.replace(
            '    kind: conductor\n    url: "sandbox:"\n',
            '    kind: conductor\n    url: "sandbox:"\n    key_id: ${env:ORKES_KEY_ID}\n    key_secret: ${env:ORKES_KEY_SECRET}\n',
        )
        text = text.replace('    kind: console\n    url: "sandbox:"\n', '    kind: console\n    url: "sandbox:"\n    api_key: ${env:CONSOLE_API_KEY}\n')
        assert text.count("${env:") == 4
        # A served sandbox, as a real server would be: over HTTP, with the credentials checked.
        text = text.replace('url: "sandbox:"', f'url: "{served.url}"')
        (root / "integrations" / "state.yaml").write_text(text)
        self.bin = root / "bin"
        self.bin.mkdir()
        self._script("reconciler", f'#!/bin/sh\nexec "{sys.executable}" -m reconciler.cli "$@"\n')
        self._script("gh", FAKE_GH.format(python=sys.executable))
        self.routes: dict[str, Any] = {}
        self.temp = root / "runner-temp"
        self.temp.mkdir()
        self.summary = root / "summary.md"

    def _script(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    def env(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBIYA_", "ORKES_", "CONSOLE_", "DRIFT_"))}
        (self.root / "routes.json").write_text(json.dumps(self.routes))
        env.update(
            PATH=f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            NO_COLOR="1",
            RUNNER_TEMP=str(self.temp),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_REPOSITORY="acme/integrations",
            FAKE_GH_ROUTES=str(self.root / "routes.json"),
            FAKE_GH_LOG=str(self.root / "gh.log"),
        )
        env.update(extra)
        return env

    def bash(self, script: str, env: Mapping[str, str]) -> Done:
        outputs = self.temp / "outputs"
        outputs.write_text("")
        full = self.env({**env, "GITHUB_OUTPUT": str(outputs)})
        done = subprocess.run(
            ["bash", "-e", "-c", script], cwd=self.root, env=full, capture_output=True, text=True, timeout=120, check=False
        )
        assert "Traceback" not in done.stderr, done.stderr
        parsed = dict(line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line)
        summary = self.summary.read_text() if self.summary.exists() else ""
        return Done(done.returncode, done.stdout, done.stderr, parsed, summary)

    def reconciler(self, *args: str, env: Mapping[str, str] = APPLY_ENV) -> int:
        """`reconciler ARGS` in process, on this checkout's integrations/: for the setup and
        checks around the pipeline (what the pipeline itself runs goes through `bash`)."""
        result = CliRunner().invoke(main, [*args, str(self.root / "integrations")], env=dict(env))
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code

    def gh_calls(self) -> list[dict[str, Any]]:
        log = self.root / "gh.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def pipeline(tmp_path: Path, served_sandbox: ServedSandbox) -> Iterator[Pipeline]:
    served_sandbox.reset()
    yield Pipeline(tmp_path, served_sandbox)
    served_sandbox.reset()


# -- the composite action ------------------------------------------------------------------

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def with_inputs(job: str, mode: str) -> dict[str, str]:
    """The inputs the example workflow gives the action in `job` (mode `mode`), over the defaults."""
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    (step,) = [s for s in WORKFLOW["jobs"][job]["steps"] if s.get("with", {}).get("mode") == mode]
    for name, value in step["with"].items():
        if "${{" not in str(value):
            inputs[name] = str(value)
    return inputs


def action_step(pipeline: Pipeline, name: str, inputs: Mapping[str, str], context: Mapping[str, str], env: Mapping[str, str]) -> Done:
    """Runs the action's step `name`: its `run` script with its `env:`, expressions evaluated
    from `inputs`, `context` (github.*, steps.*) and nothing else (an unknown one fails)."""
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == name]

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        assert expr in context, f"the test does not know the expression {expr!r} of step {name!r}"
        return context[expr]

    assert "${{" not in step["run"], "run scripts read inputs through env only"
    step_env = {k: _EXPR.sub(value, str(v)) for k, v in step.get("env", {}).items()}
    return pipeline.bash(step["run"], {**step_env, **env})


PR_CONTEXT = {
    "github.event_name == 'pull_request' && github.event.pull_request.head.repo.full_name != github.repository": "false",
    "github.event.pull_request.number": "7",
}


def pull_request(pipeline: Pipeline, *, fork: bool = False, validate: bool = True) -> tuple[Done, Done]:
    """The plan job: the action's validate and plan steps, then its summary step."""
    inputs = with_inputs("plan", "plan")
    context = {**PR_CONTEXT}
    context[next(iter(PR_CONTEXT))] = "true" if fork else "false"
    env = {} if fork else PLAN_ENV
    context["steps.validate.outputs.exitcode"] = "0"
    if validate:
        checked = action_step(pipeline, "validate", inputs, context, env)
        assert checked.code == 0, checked.stderr
        context["steps.validate.outputs.exitcode"] = checked.outputs["exitcode"]
    plan = action_step(pipeline, "plan", inputs, context, env)
    assert plan.code == 0, plan.stderr  # the step itself never fails: the last step decides
    context["steps.plan.outputs.markdown-file"] = plan.outputs["markdown-file"]
    summary = action_step(pipeline, "plan summary", inputs, context, {})
    assert summary.code == 0, summary.stderr
    return plan, summary


def upload_and_download(pipeline: Pipeline) -> None:
    """The artifact of the plan job, as the apply job's download step leaves it."""
    inputs = with_inputs("apply", "apply")
    reviewed = pipeline.root / Path(inputs["plan-file"]).parent
    if reviewed == pipeline.root:
        return  # downloaded to where the plan job wrote it
    reviewed.mkdir()
    for name in ("plan.json", "plan.md"):
        shutil.copy(pipeline.root / name, reviewed / name)


def merge(pipeline: Pipeline) -> Done:
    return action_step(pipeline, "apply the reviewed plan", with_inputs("apply", "apply"), {}, APPLY_ENV)


def test_pull_request_plans_with_read_only_credentials_then_the_merge_applies_the_reviewed_plan(
    pipeline: Pipeline,
) -> None:
    plan, summary = pull_request(pipeline)
    assert plan.outputs["exitcode"] == "2"
    assert "### Reconciler plan: 10 to add, 0 to change, 0 to replace, 0 to destroy" in summary.summary
    assert json.loads((pipeline.root / "plan.json").read_text())["format"] == "reconciler-plan"
    upload_and_download(pipeline)
    applied = merge(pipeline)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert "## The reviewed plan" in applied.summary
    assert "Apply complete: 10 added, 0 changed, 0 replaced, 0 destroyed." in applied.summary
    assert pipeline.reconciler("plan", "--detailed-exitcode") == 0


def test_merge_refuses_when_the_server_changed_since_the_review(pipeline: Pipeline) -> None:
    assert pipeline.reconciler("apply", "--auto-approve") == 0
    state = pipeline.root / "integrations" / "state.yaml"
    state.write_text(state.read_text().replace("description: Session cache", "description: Session cache v2"))
    plan, _ = pull_request(pipeline, validate=False)
    assert plan.outputs["exitcode"] == "2"
    upload_and_download(pipeline)
    # Someone edits the same integration by hand between the review and the merge.
    kubiya = httpx.Client(base_url=pipeline.served.url, headers={"Authorization": "Bearer sandbox-kubiya-token"})
    with kubiya:
        (row,) = [r for r in kubiya.get("/api/v1/custom-integrations").json() if r["name"] == "redis-cache"]
        edited = kubiya.put(f"/api/v1/custom-integrations/{row['id']}", json={"description": "by hand"})
        assert edited.status_code == 200, edited.text
    refused = merge(pipeline)
    assert refused.code == 1
    assert "changed since the plan was made: integration.kubiya.redis-cache" in refused.summary


def test_a_refused_plan_still_gives_a_comment_naming_the_refusal(pipeline: Pipeline) -> None:
    assert pipeline.reconciler("apply", "--auto-approve") == 0
    state = pipeline.root / "integrations" / "state.yaml"
    # A console channel cannot be updated: changing it is a replacement, which the workflow's
    # --max-deletes 0 refuses.
    state.write_text(state.read_text().replace("https://mcp.example.com/docs", "https://mcp.example.com/v2"))
    plan, summary = pull_request(pipeline, validate=False)
    assert plan.outputs["exitcode"] == "1"
    markdown = (pipeline.root / plan.outputs["markdown-file"]).read_text()
    assert markdown.startswith("### ❌ Reconciler plan failed")
    assert "more than --max-deletes 0: channel.console.agt\\_demo.mcp\\_server.docs-search" in markdown
    assert markdown in summary.summary


@needs_jq
def test_the_comment_is_created_once_then_updated(pipeline: Pipeline) -> None:
    (pipeline.root / "plan.md").write_text("### Reconciler plan: 10 to add, 0 to change, 0 to replace, 0 to destroy\n")
    inputs = with_inputs("plan", "plan")
    context = {**PR_CONTEXT, "steps.plan.outputs.markdown-file": "plan.md", "github.token": "t"}
    pipeline.routes = {"GET repos/acme/integrations/issues/7/comments": [], "POST repos/acme/integrations/issues/7/comments": {}}
    first = action_step(pipeline, "comment the plan on the pull request", inputs, context, {})
    assert first.code == 0, first.stderr
    (_, posted) = pipeline.gh_calls()
    assert (posted["method"], posted["path"]) == ("POST", "repos/acme/integrations/issues/7/comments")
    body = json.loads(posted["body"])["body"]
    assert body.startswith("<!-- reconciler-plan:reconciler-plan -->\n### Reconciler plan: 10 to add")
    pipeline.routes = {
        "GET repos/acme/integrations/issues/7/comments": [{"id": 1, "body": "lgtm"}, {"id": 42, "body": body}],
        "PATCH repos/acme/integrations/issues/comments/42": {},
    }
    second = action_step(pipeline, "comment the plan on the pull request", inputs, context, {})
    assert second.code == 0, second.stderr
    assert [(c["method"], c["path"]) for c in pipeline.gh_calls()[2:]] == [
        ("GET", "repos/acme/integrations/issues/7/comments"),
        ("PATCH", "repos/acme/integrations/issues/comments/42"),
    ]


FAIL_STEP = "fail when validate or plan failed, or the plan was refused"


def break_the_file(pipeline: Pipeline) -> None:
    state = pipeline.root / "integrations" / "state.yaml"
    state.write_text(state.read_text() + "bogus_key: 1\n")


def last_step(pipeline: Pipeline, context: Mapping[str, str]) -> Done:
    """The action's last plan-mode step: it fails the job when validate or plan did."""
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == FAIL_STEP]
    expr = step["if"].removeprefix("${{").removesuffix("}}").strip()
    assert expr == "inputs.mode == 'plan' && (steps.validate.outputs.exitcode != '0' || steps.plan.outputs.exitcode == '1')"
    if context["steps.validate.outputs.exitcode"] == "0" and context["steps.plan.outputs.exitcode"] != "1":
        return Done(0, "", "", {}, "")  # the step is skipped
    return action_step(pipeline, FAIL_STEP, with_inputs("plan", "plan"), context, {})


@needs_jq
def test_an_invalid_file_still_updates_the_comment_with_the_diagnostics_and_fails_the_job(pipeline: Pipeline) -> None:
    break_the_file(pipeline)
    inputs = with_inputs("plan", "plan")
    context = {**PR_CONTEXT, "github.token": "t"}
    checked = action_step(pipeline, "validate", inputs, context, PLAN_ENV)
    assert (checked.code, checked.outputs) == (0, {"exitcode": "1"}), checked.stderr
    context["steps.validate.outputs.exitcode"] = checked.outputs["exitcode"]
    plan = action_step(pipeline, "plan", inputs, context, PLAN_ENV)
    assert plan.code == 0, plan.stderr
    context["steps.plan.outputs.markdown-file"] = plan.outputs["markdown-file"]
    context["steps.plan.outputs.exitcode"] = plan.outputs["exitcode"]
    # The outdated comment of an earlier push is there, and is replaced.
    pipeline.routes = {
        "GET repos/acme/integrations/issues/7/comments": [{"id": 42, "body": "<!-- reconciler-plan:reconciler-plan -->\nold plan"}],
        "PATCH repos/acme/integrations/issues/comments/42": {},
    }
    commented = action_step(pipeline, "comment the plan on the pull request", inputs, context, {})
    assert commented.code == 0, commented.stderr
    (_, patched) = pipeline.gh_calls()
    assert (patched["method"], patched["path"]) == ("PATCH", "repos/acme/integrations/issues/comments/42")
    body = json.loads(patched["body"])["body"]
    assert "state.yaml:" in body, body
    assert "unknown field \\`bogus\\_key\\` at the top level" in body, body
    assert last_step(pipeline, context).code == 1


def test_an_invalid_file_from_a_fork_shows_the_diagnostics_in_the_summary(pipeline: Pipeline) -> None:
    break_the_file(pipeline)
    inputs = with_inputs("plan", "plan")
    context = {**PR_CONTEXT, next(iter(PR_CONTEXT)): "true"}
    checked = action_step(pipeline, "validate", inputs, context, {})
    context["steps.validate.outputs.exitcode"] = checked.outputs["exitcode"]
    plan = action_step(pipeline, "plan", inputs, context, {})
    assert plan.outputs["exitcode"] == "skipped"
    context["steps.plan.outputs.markdown-file"] = plan.outputs["markdown-file"]
    context["steps.plan.outputs.exitcode"] = plan.outputs["exitcode"]
    summary = action_step(pipeline, "plan summary", inputs, context, {})
    assert "unknown field `bogus_key` at the top level" in summary.summary
    assert last_step(pipeline, context).code == 1


def action_step_if(name: str) -> str:
    (step,) = [s for s in ACTION["runs"]["steps"] if s.get("name") == name]
    return str(step["if"])


@pytest.mark.parametrize("name", ["validate", "plan"])
def test_validate_and_plan_run_even_after_a_failed_step(name: str) -> None:
    # A failed step would otherwise skip them, and the outdated comment would stay.
    assert action_step_if(name) == "inputs.mode == 'plan' && !cancelled()"


@pytest.mark.parametrize("name", ["plan summary", "comment the plan on the pull request"])
def test_the_summary_and_the_comment_are_written_whatever_the_outcome(name: str) -> None:
    assert action_step_if(name).startswith("inputs.mode == 'plan' && always() && ")


def test_an_invalid_file_uploads_no_plan_artifact() -> None:
    # A merge then finds no reviewed plan and fails, instead of applying one from invalid files.
    assert "steps.validate.outputs.exitcode == '0'" in action_step_if("upload the plan")


def test_the_job_fails_only_after_the_summary_the_comment_and_the_upload() -> None:
    names = [s.get("name") for s in ACTION["runs"]["steps"]]
    assert names.index(FAIL_STEP) > max(
        names.index(n) for n in ("plan summary", "comment the plan on the pull request", "upload the plan")
    )


@needs_jq
def test_an_unreachable_server_still_updates_the_comment_with_the_error_and_fails_the_job(pipeline: Pipeline) -> None:
    state = pipeline.root / "integrations" / "state.yaml"
    # Port 9 (discard) on the loopback: nothing listens, the connection is refused at once.
    state.write_text(state.read_text().replace(pipeline.served.url, "http://127.0.0.1:9"))
    inputs = with_inputs("plan", "plan")
    context = {**PR_CONTEXT, "github.token": "t"}
    checked = action_step(pipeline, "validate", inputs, context, PLAN_ENV)
    assert checked.outputs == {"exitcode": "0"}, checked.stdout + checked.stderr  # offline: the files are valid
    context["steps.validate.outputs.exitcode"] = checked.outputs["exitcode"]
    plan = action_step(pipeline, "plan", inputs, context, PLAN_ENV)
    context["steps.plan.outputs.markdown-file"] = plan.outputs["markdown-file"]
    context["steps.plan.outputs.exitcode"] = plan.outputs["exitcode"]
    pipeline.routes = {"GET repos/acme/integrations/issues/7/comments": [], "POST repos/acme/integrations/issues/7/comments": {}}
    commented = action_step(pipeline, "comment the plan on the pull request", inputs, context, {})
    assert commented.code == 0, commented.stderr
    (_, posted) = pipeline.gh_calls()
    body = json.loads(posted["body"])["body"]
    assert "### ❌ Reconciler plan failed" in body, body
    assert "127.0.0.1:9" in body, body
    assert last_step(pipeline, context).code == 1


def test_a_valid_pull_request_does_not_fail_at_the_last_step(pipeline: Pipeline) -> None:
    plan, _ = pull_request(pipeline)
    context = {"steps.validate.outputs.exitcode": "0", "steps.plan.outputs.exitcode": plan.outputs["exitcode"]}
    assert last_step(pipeline, context).code == 0


def test_a_fork_pull_request_is_validated_and_says_plan_was_skipped(pipeline: Pipeline) -> None:
    plan, summary = pull_request(pipeline, fork=True)
    assert plan.outputs["exitcode"] == "skipped"
    assert summary.summary.startswith("### Reconciler plan: skipped\n")
    assert not (pipeline.root / "plan.json").exists()


# -- the example workflow's own step: finding the reviewed plan ------------------------------


def find_reviewed(pipeline: Pipeline) -> Done:
    (step,) = [s for s in WORKFLOW["jobs"]["reviewed-plan"]["steps"] if s.get("id") == "reviewed"]
    env = {"GH_TOKEN": "t", "ARTIFACT": step["env"]["ARTIFACT"], "GITHUB_SHA": "m3rge",
           "GITHUB_WORKFLOW_REF": "acme/integrations/.github/workflows/integrations.yml@refs/heads/main"}
    return pipeline.bash(step["run"], env)


@needs_jq
def test_the_merge_finds_the_plan_artifact_of_the_merged_pull_request(pipeline: Pipeline) -> None:
    pipeline.routes = {
        "GET repos/acme/integrations/commits/m3rge/pulls": [{"number": 7, "merged_at": "2026-01-01T00:00:00Z", "head": {"sha": "h3ad"}}],
        "GET repos/acme/integrations/actions/workflows/integrations.yml/runs?event=pull_request&head_sha=h3ad": {
            "workflow_runs": [
                {"id": 100, "run_number": 1, "status": "completed"},
                {"id": 300, "run_number": 3, "status": "completed"},
                {"id": 400, "run_number": 4, "status": "in_progress"},
            ]
        },
        "GET repos/acme/integrations/actions/runs/300/artifacts": {"artifacts": [{"name": "reconciler-plan", "expired": False}]},
    }
    found = find_reviewed(pipeline)
    assert found.code == 0, found.stderr + found.stdout
    assert found.outputs == {"pull-request": "7", "run-id": "300"}


def downloads(job: str) -> list[dict[str, Any]]:
    return [s for s in WORKFLOW["jobs"][job]["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@")]


def test_the_workflow_has_a_plan_job_an_ungated_reviewed_plan_job_and_an_apply_job() -> None:
    assert list(WORKFLOW["jobs"]) == ["plan", "reviewed-plan", "apply"]


def test_the_reviewed_plan_job_runs_on_the_merge_push_without_an_approval_gate() -> None:
    job = WORKFLOW["jobs"]["reviewed-plan"]
    assert (job["if"], job.get("environment"), job.get("needs")) == ("github.event_name == 'push'", None, None)


def test_the_reviewed_plan_job_holds_no_secrets() -> None:
    assert "secrets." not in yaml.safe_dump(WORKFLOW["jobs"]["reviewed-plan"])


def test_the_apply_job_waits_for_the_reviewed_plan_job_then_for_the_production_approval() -> None:
    job = WORKFLOW["jobs"]["apply"]
    assert (job["needs"], job["environment"]) == ("reviewed-plan", "production")


def test_the_apply_job_downloads_the_run_the_reviewed_plan_job_found() -> None:
    assert WORKFLOW["jobs"]["reviewed-plan"]["outputs"] == {"run-id": "${{ steps.reviewed.outputs.run-id }}"}
    ((shown,), (applied,)) = (downloads("reviewed-plan"), downloads("apply"))
    assert (shown["with"]["run-id"], applied["with"]["run-id"]) == (
        "${{ steps.reviewed.outputs.run-id }}",
        "${{ needs.reviewed-plan.outputs.run-id }}",
    )


def test_the_write_credentials_are_only_in_the_production_apply_job() -> None:
    holders = {name for name, job in WORKFLOW["jobs"].items() if "secrets.CONSOLE_API_KEY" in yaml.safe_dump(job)}
    assert holders == {"apply"}


def test_the_plan_job_reads_with_read_only_credentials() -> None:
    env = WORKFLOW["jobs"]["plan"]["env"]
    assert env["CONSOLE_API_KEY"] == "${{ secrets.CONSOLE_READONLY_API_KEY }}"


def test_every_job_declares_its_permissions_and_the_default_is_read_only() -> None:
    assert WORKFLOW["permissions"] == {"contents": "read"}
    assert {name: job["permissions"] for name, job in WORKFLOW["jobs"].items()} == {
        "plan": {"contents": "read", "pull-requests": "write"},
        "reviewed-plan": {"actions": "read", "pull-requests": "read"},
        "apply": {"contents": "read", "actions": "read"},
    }


def test_the_approver_sees_the_reviewed_plan_in_the_reviewed_plan_job_summary(pipeline: Pipeline) -> None:
    jobs = WORKFLOW["jobs"]
    # The pull request's plan, as the plan job wrote it, downloaded where the job puts it.
    plan, _ = pull_request(pipeline)
    (fetched,) = downloads("reviewed-plan")
    into = pipeline.root / fetched["with"]["path"]
    into.mkdir()
    shutil.copy(pipeline.root / plan.outputs["markdown-file"], into / "plan.md")
    pipeline.summary.write_text("")
    (show,) = [s for s in jobs["reviewed-plan"]["steps"] if s.get("name") == "show the reviewed plan to the approver"]
    shown = pipeline.bash(show["run"], {"PR": "7", "RUN_ID": "300"})
    assert shown.code == 0, shown.stderr
    assert shown.summary.startswith("## The plan reviewed on pull request #7 (run 300)\n")
    assert "### Reconciler plan: 10 to add, 0 to change, 0 to replace, 0 to destroy" in shown.summary


@needs_jq
def test_the_merge_fails_clearly_when_the_reviewed_plan_cannot_be_found(pipeline: Pipeline) -> None:
    pipeline.routes = {
        "GET repos/acme/integrations/commits/m3rge/pulls": [{"number": 7, "merged_at": "2026-01-01T00:00:00Z", "head": {"sha": "h3ad"}}],
        "GET repos/acme/integrations/actions/workflows/integrations.yml/runs?event=pull_request&head_sha=h3ad": {
            "workflow_runs": [{"id": 300, "run_number": 3, "status": "completed"}]
        },
        "GET repos/acme/integrations/actions/runs/300/artifacts": {"artifacts": [{"name": "reconciler-plan", "expired": True}]},
    }
    missing = find_reviewed(pipeline)
    assert missing.code == 1
    assert "::error::run 300 of pull request #7 has no reconciler-plan artifact" in missing.stdout
    assert missing.outputs == {}


# -- GitLab CI -----------------------------------------------------------------------------


def gitlab_script(job: str) -> str:
    return "\n".join(GITLAB[job]["script"])


def gitlab_env(job: str, base: Mapping[str, str]) -> dict[str, str]:
    """The job's `variables:`, `$NAME` references resolved from the project's CI variables."""
    project = {
        "PLAN_KUBIYA_TOKEN": base["KUBIYA_TOKEN"],
        "PLAN_ORKES_KEY_ID": base["ORKES_KEY_ID"],
        "PLAN_ORKES_KEY_SECRET": base["ORKES_KEY_SECRET"],
        "CONSOLE_READONLY_API_KEY": "sk_sandbox_readonly",
    }
    out = dict(base)
    for name, value in GITLAB[job].get("variables", {}).items():
        out[name] = project[value[1:]] if str(value).startswith("$") else str(value)
    return out


def test_gitlab_merge_request_then_manual_apply_on_the_default_branch(pipeline: Pipeline) -> None:
    # The merge request's plan note goes to a fake GitLab (edits in place: test_gitlab_note).
    gitlab = ServedGitLab(FakeGitLab())
    note_env = {
        "CI_API_V4_URL": gitlab.url,
        "CI_PROJECT_ID": "acme/integrations",
        "CI_MERGE_REQUEST_IID": "7",
        "RECONCILER_NOTE_TOKEN": NOTE_TOKEN,
    }
    try:
        for job in ("validate", "plan"):
            done = pipeline.bash(gitlab_script(job), {**gitlab_env(job, APPLY_ENV), **note_env})
            assert done.code == 0, done.stderr
    finally:
        gitlab.close()
    assert json.loads((pipeline.root / "validate.json").read_text())["format"] == "reconciler-diagnostics"
    assert "plan: 10 to add" in (pipeline.root / "plan.md").read_text()
    assert gitlab.fake.bodies() == ["<!-- reconciler-plan:reconciler-plan -->\n" + (pipeline.root / "plan.md").read_text()]
    for job in ("plan-default-branch", "apply"):
        done = pipeline.bash(gitlab_script(job), gitlab_env(job, APPLY_ENV))
        assert done.code == 0, done.stderr
    assert pipeline.reconciler("plan", "--detailed-exitcode") == 0


def test_gitlab_plan_md_names_the_refusal_and_the_job_fails(pipeline: Pipeline) -> None:
    assert pipeline.reconciler("apply", "--auto-approve") == 0
    state = pipeline.root / "integrations" / "state.yaml"
    state.write_text(state.read_text().replace("https://mcp.example.com/docs", "https://mcp.example.com/v2"))
    done = pipeline.bash(gitlab_script("plan"), gitlab_env("plan", APPLY_ENV))
    assert done.code == 1
    assert (pipeline.root / "plan.md").read_text().startswith(
        "> [!CAUTION]\n> **Refused:** the plan holds 1 change(s) of a kind --fail-on refuses (replace)"
    )


def test_gitlab_invalid_file_still_updates_the_plan_note_and_both_jobs_fail(pipeline: Pipeline) -> None:
    break_the_file(pipeline)
    gitlab = ServedGitLab(FakeGitLab())
    note_env = {
        "CI_API_V4_URL": gitlab.url,
        "CI_PROJECT_ID": "acme/integrations",
        "CI_MERGE_REQUEST_IID": "7",
        "RECONCILER_NOTE_TOKEN": NOTE_TOKEN,
    }
    try:
        codes = [pipeline.bash(gitlab_script(job), {**gitlab_env(job, APPLY_ENV), **note_env}).code for job in ("validate", "plan")]
    finally:
        gitlab.close()
    assert codes == [1, 1]
    (note,) = gitlab.fake.bodies()
    assert "unknown field \\`bogus\\_key\\` at the top level" in note, note


def test_gitlab_plan_does_not_wait_for_validate() -> None:
    # Otherwise an invalid file skips plan, and the merge request keeps its outdated plan note.
    assert GITLAB["plan"]["needs"] == []


def test_gitlab_plan_keeps_its_markdown_when_it_fails() -> None:
    assert GITLAB["plan"]["artifacts"]["when"] == "always"


def test_gitlab_applies_only_by_hand_on_push_pipelines_of_the_default_branch() -> None:
    (rule,) = GITLAB["apply"]["rules"]
    assert rule == {"if": '$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', "when": "manual"}
    assert GITLAB["apply"]["needs"] == ["plan-default-branch"]


# -- the drift cron job --------------------------------------------------------------------


def cron(pipeline: Pipeline, env: Mapping[str, str] | None = None) -> Done:
    # cron's environment: a bare PATH, no credentials; the script finds the rest itself.
    return pipeline.bash(
        "./drift-cron.sh",
        {"PATH": "/usr/bin:/bin", "RECONCILER_BIN_DIR": str(pipeline.bin), "TMPDIR": str(pipeline.temp), **(env or {})},
    )


@pytest.fixture
def cron_ready(pipeline: Pipeline) -> Pipeline:
    shutil.copy(CI / "drift-cron.sh", pipeline.root / "drift-cron.sh")
    creds = "".join(f"{k}={v}\n" for k, v in PLAN_ENV.items())
    (pipeline.root / "drift.env").write_text(creds)
    return pipeline


def test_drift_cron_reads_credentials_from_its_env_file_and_reports(cron_ready: Pipeline) -> None:
    pipeline = cron_ready
    first = cron(pipeline)
    assert (first.code, first.stdout.split(" ", 1)[1]) == (2, "drift found: see drift.json\n")
    assert json.loads((pipeline.root / "drift.json").read_text())["counts"]["missing"] == 10
    assert pipeline.reconciler("apply", "--auto-approve") == 0
    clean = cron(pipeline)
    assert (clean.code, clean.stdout.split(" ", 1)[1]) == (0, "no drift\n")


def test_drift_cron_never_overlaps_a_running_check(cron_ready: Pipeline) -> None:
    pipeline = cron_ready
    lock = pipeline.temp / f"reconciler-drift.{os.getuid()}.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        second = cron(pipeline)
    assert second.code == 1
    assert "a drift check is still running; this one is skipped" in second.stderr
    assert not (pipeline.root / "drift.json").exists()


def test_drift_cron_failure_replaces_the_previous_report(cron_ready: Pipeline) -> None:
    pipeline = cron_ready
    assert cron(pipeline).code == 2
    (pipeline.root / "drift.env").write_text("")  # the credentials are gone
    failed = cron(pipeline)
    assert failed.code == 1
    report = json.loads((pipeline.root / "drift.json").read_text())
    assert report["drifted"] is None
    assert "KUBIYA_TOKEN" in json.dumps(report["error"])


# -- the copies `reconciler init` writes -------------------------------------------------------


def test_the_packaged_ci_files_are_the_examples_byte_for_byte() -> None:
    packaged = ROOT / "reconciler" / "data" / "ci"
    copies = sorted(p.name for p in packaged.iterdir() if p.is_file())
    assert copies, "reconciler init has no CI files to write"
    assert {name: (packaged / name).read_bytes() == (CI / name).read_bytes() for name in copies} == dict.fromkeys(copies, True)
