"""One `type: gitlab` entry of throughline.yml: the instance, an access token, projects or groups, and options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.core.options import (
    DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel, each_matching, host_url,
)

GitLabUrl = host_url("/api/v4", instead="the instance URL only (e.g. https://gitlab.com)")


class GitLabAuth(StrictModel):
    token: SecretStr = Field(description="Personal, group or project access token with read_api.")
    header: Literal["private-token", "bearer"] = Field(
        "private-token", description="Send it as `PRIVATE-TOKEN: <token>` or as `Authorization: Bearer <token>` (OAuth)."
    )


class GitLabScope(GlobScope):
    """Projects listed by full path, or every project of some groups whose path or full path the globs match."""

    projects: list[str] = Field(default_factory=list, description="Full paths of projects (group/sub/name).")
    groups: list[str] = Field(default_factory=list, description="Load every project of these groups (include/"
                              "exclude: globs on the project's path or full path).")
    include_subgroups: bool = True
    include_archived: bool = False

    listed, found_by = "projects", ("groups",)
    give_one = "list projects (full paths), or groups (with include/exclude globs)"

    @field_validator("projects", "groups")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        return each_matching(paths, r"[\w.-]+(/[\w.-]+)*",
                             "is not a GitLab path (e.g. acme/payments/api, without the host)")


class GitLabOptions(HttpOptions):
    issue_type: str | None = Field(
        "incident",
        description="Issues of this type are read (GitLab incidents are issues of type `incident`); null reads "
        "every issue.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production, which service each project deploys, and how rollbacks "
        "and hotfixes are recognised. Deployments come from GitLab's deployments API, so job_pattern, "
        "branches and environment_pattern are not needed.",
    )


class GitLabSource(SourceConfig):
    type: Literal["gitlab"]
    base_url: GitLabUrl = Field("https://gitlab.com", description="The instance, without /api/v4.")
    auth: GitLabAuth
    scope: GitLabScope
    options: GitLabOptions = GitLabOptions()
