"""Issues, comments, reactions, pull requests and check runs as GitHub's REST API shows them, on top
of the accounts and repositories of `shapes_accounts`; `Shapes` renders every record of the server."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.github.identity import node_id, stable_id
from bot.sandbox.github.shapes_accounts import AccountShapes, Obj, iso
from bot.sandbox.github.state import (
    CheckRun,
    Comment,
    Issue,
    PullRequest,
    Reaction,
    Repository,
    ReviewComment,
)

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass(frozen=True)
class Shapes(AccountShapes):
    """Every record of one local GitHub server in GitHub's REST shapes."""

    # --- issues, comments, reactions ------------------------------------------------------------

    def author_association(self, repo: Repository, login: str) -> str:
        if login.lower() == repo.owner.lower():
            return "OWNER"
        return "COLLABORATOR" if repo.roles.get(login.lower(), "none") != "none" else "NONE"

    def issue(self, repo: Repository, issue: Issue) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}/issues/{issue.number}"
        page = "pull" if issue.is_pull else "issues"
        comments = len(self.state.comments_on(repo, issue.number))
        shown: Obj = {
            "id": issue.id,
            "node_id": node_id("PullRequest" if issue.is_pull else "Issue", issue.id),
            "url": url,
            "repository_url": f"{self.api_url}/repos/{repo.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "timeline_url": f"{url}/timeline",
            "html_url": f"{self.web_url}/{repo.full_name}/{page}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": None,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": [self.label(repo, name) for name in issue.labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": comments,
            "closed_at": None,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "author_association": self.author_association(repo, issue.user),
            "reactions": self.reaction_rollup(f"{url}/reactions", []),
        }
        if issue.is_pull:
            html = f"{self.web_url}/{repo.full_name}/pull/{issue.number}"
            shown["pull_request"] = {
                "url": f"{self.api_url}/repos/{repo.full_name}/pulls/{issue.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": None,
            }
            shown["draft"] = self.state.pulls[(repo.key, issue.number)].draft
        return shown

    def label(self, repo: Repository, name: str) -> Obj:
        label_id = stable_id("label", f"{repo.full_name}:{name}")
        return {
            "id": label_id,
            "node_id": node_id("Label", label_id),
            "url": f"{self.api_url}/repos/{repo.full_name}/labels/{name}",
            "name": name,
            "color": "0e8a16",
            "default": False,
            "description": "",
        }

    def comment(self, repo: Repository, comment: Comment) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}/issues/comments/{comment.id}"
        issue = self.state.issues[(repo.key, comment.issue_number)]
        page = "pull" if issue.is_pull else "issues"
        return {
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": url,
            "html_url": f"{self.web_url}/{repo.full_name}/{page}/{comment.issue_number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": f"{self.api_url}/repos/{repo.full_name}/issues/{comment.issue_number}",
            "author_association": self.author_association(repo, comment.user),
            "performed_via_github_app": self.app() if comment.via_app else None,
            "reactions": self.reaction_rollup(f"{url}/reactions", self.state.reactions.get(comment.id, [])),
        }

    def reaction_rollup(self, url: str, reactions: list[Reaction]) -> Obj:
        counts = {content: sum(1 for r in reactions if r.content == content) for content in REACTIONS}
        return {"url": url, "total_count": len(reactions), **counts}

    def reaction(self, reaction: Reaction) -> Obj:
        return {
            "id": reaction.id,
            "node_id": node_id("Reaction", reaction.id),
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def review_comment(self, repo: Repository, comment: ReviewComment) -> Obj:
        api = f"{self.api_url}/repos/{repo.full_name}"
        url = f"{api}/pulls/comments/{comment.id}"
        html = f"{self.web_url}/{repo.full_name}/pull/{comment.pull_number}#discussion_r{comment.id}"
        pull_url = f"{api}/pulls/{comment.pull_number}"
        return {
            "url": url,
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": node_id("PullRequestReviewComment", comment.id),
            "diff_hunk": f"@@ -{comment.line},1 +{comment.line},1 @@",
            "path": comment.path,
            "position": 1,
            "original_position": 1,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.commit_id,
            "user": self.user(comment.user),
            "body": comment.body,
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.created_at),
            "html_url": html,
            "pull_request_url": pull_url,
            "author_association": self.author_association(repo, comment.user),
            "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_url}},
            "side": "RIGHT",
            "line": comment.line,
            "original_line": comment.line,
            "subject_type": "line",
        }

    # --- pull requests and check runs ------------------------------------------------------------

    def pull(self, repo: Repository, pull: PullRequest) -> Obj:
        api = f"{self.api_url}/repos/{repo.full_name}"
        url, issue_url = f"{api}/pulls/{pull.number}", f"{api}/issues/{pull.number}"
        html = f"{self.web_url}/{repo.full_name}/pull/{pull.number}"
        repo_shown = self.repository(repo)
        owner = self.user(repo.owner)

        def end(ref: str, sha: str) -> Obj:
            return {"label": f"{repo.owner}:{ref}", "ref": ref, "sha": sha, "user": owner, "repo": repo_shown}

        links = {
            "self": url,
            "html": html,
            "issue": issue_url,
            "comments": f"{issue_url}/comments",
            "review_comments": f"{url}/comments",
            "review_comment": f"{api}/pulls/comments{{/number}}",
            "commits": f"{url}/commits",
            "statuses": f"{api}/statuses/{pull.head_sha}",
        }
        comments = len(self.state.comments_on(repo, pull.number))
        return {
            "url": url,
            "id": pull.id,
            "node_id": node_id("PullRequest", pull.id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{api}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": f"{api}/statuses/{pull.head_sha}",
            "number": pull.number,
            "state": pull.state,
            "locked": False,
            "title": pull.title,
            "user": self.user(pull.user),
            "body": pull.body,
            "labels": [],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": iso(pull.created_at),
            "updated_at": iso(pull.updated_at),
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": None,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": end(pull.head_ref, pull.head_sha),
            "base": end(pull.base_ref, pull.base_sha),
            "_links": {name: {"href": href} for name, href in links.items()},
            "author_association": self.author_association(repo, pull.user),
            "auto_merge": None,
            "draft": pull.draft,
            "merged": False,
            "mergeable": True,
            "rebaseable": True,
            "mergeable_state": "clean",
            "merged_by": None,
            "comments": comments,
            "review_comments": 0,
            "maintainer_can_modify": pull.maintainer_can_modify,
            "commits": 1,
            "additions": 1,
            "deletions": 0,
            "changed_files": 1,
        }

    def check_run(self, repo: Repository, run: CheckRun) -> Obj:
        url = f"{self.api_url}/repos/{repo.full_name}/check-runs/{run.id}"
        html = f"{self.web_url}/{repo.full_name}/runs/{run.id}"
        output = {
            "title": run.output.get("title"),
            "summary": run.output.get("summary"),
            "text": run.output.get("text"),
            "annotations_count": len(run.output.get("annotations", [])),
            "annotations_url": f"{url}/annotations",
        }
        pulls = [
            {
                "id": pull.id,
                "number": pull.number,
                "url": f"{self.api_url}/repos/{repo.full_name}/pulls/{pull.number}",
                "head": {
                    "ref": pull.head_ref,
                    "sha": pull.head_sha,
                    "repo": _minimal_repo(self.api_url, repo),
                },
                "base": {
                    "ref": pull.base_ref,
                    "sha": pull.base_sha,
                    "repo": _minimal_repo(self.api_url, repo),
                },
            }
            for pull in self.state.pulls.values()
            if pull.repo_key == repo.key and pull.head_sha == run.head_sha and pull.state == "open"
        ]
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CheckRun", run.id),
            "external_id": run.external_id,
            "url": url,
            "html_url": html,
            "details_url": run.details_url or html,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": output,
            "name": run.name,
            "check_suite": {"id": run.suite_id},
            "app": self.app(),
            "pull_requests": pulls,
        }


def _minimal_repo(api_url: str, repo: Repository) -> Obj:
    return {"id": repo.id, "url": f"{api_url}/repos/{repo.full_name}", "name": repo.name}
