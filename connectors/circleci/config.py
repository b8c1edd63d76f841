"""One `type: circleci` entry of throughline.yml: the host, a personal token, projects or an org, and options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.core.options import (
    DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel, each_matching, host_url,
)

CircleCIUrl = host_url("/api/v2", "/api/v1.1", instead="the host only (e.g. https://circleci.com)")


class CircleCIAuth(StrictModel):
    token: SecretStr = Field(description="Personal API token (sent as the Circle-Token header); read access suffices.")


class CircleCIScope(GlobScope):
    """Projects listed by slug, or every followed project of an org whose repository name the globs match."""

    projects: list[str] = Field(default_factory=list, description="Project slugs `<vcs>/<org>/<repo>` (gh/acme/checkout).")
    org: str | None = Field(None, description="Every project of this org the token's user follows (gh/acme); "
                            "include/exclude: globs on the repository name.")

    listed, found_by = "projects", ("org",)
    give_one = "list projects (gh/<org>/<repo>), or give an org (with include/exclude globs)"

    @field_validator("projects")
    @classmethod
    def _slugs(cls, slugs: list[str]) -> list[str]:
        return each_matching(slugs, r"(gh|github|bb|bitbucket|circleci)/[\w.-]+/[\w.-]+",
                             "is not a project slug; write it as gh/<org>/<repo> (or bb/..., circleci/...)")

    @field_validator("org")
    @classmethod
    def _org(cls, value: str | None) -> str | None:
        if value is not None:
            each_matching([value], r"(gh|github|bb|bitbucket)/[\w.-]+", "is not an org slug; write it as gh/<org> "
                          "(or bb/<workspace>)")
        return value


class CircleCIOptions(HttpOptions):
    recheck_unfinished_days: float = Field(
        14, ge=0,
        description="Workflows still running, failing or on hold when last read are read again while their "
        "pipeline is younger than this (an approval may wait for days); 0 turns the re-check off.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which jobs (or workflows) deploy, to which environment, which service each project "
        "deploys, and how rollbacks and hotfixes are recognised.",
    )


class CircleCISource(SourceConfig):
    type: Literal["circleci"]
    base_url: CircleCIUrl = Field("https://circleci.com", description="The host (server installs: yours), without /api/v2.")
    auth: CircleCIAuth
    scope: CircleCIScope
    options: CircleCIOptions = CircleCIOptions()
