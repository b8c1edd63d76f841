"""One `type: bitbucket` entry of throughline.yml: Bitbucket Cloud's 2.0 API, a workspace, credentials and
options (docs/sources/bitbucket.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.core.options import (
    DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel, each_matching, host_url,
)

BitbucketUrl = host_url("/2.0", instead="the API host only (e.g. https://api.bitbucket.org)")


class BitbucketAuth(StrictModel):
    """With `username`: HTTP Basic with an API token or app password (Atlassian account email or Bitbucket
    username, as the token's kind asks); without: a workspace/project/repository access token as Bearer."""

    username: str | None = Field(None, description="For an API token or app password; omit for an access token.")
    token: SecretStr = Field(description="API token, app password or access token with repository and "
                             "pipeline read scopes, written as ${BITBUCKET_TOKEN}.")


class BitbucketScope(GlobScope):
    """Every repository of one workspace whose slug the include/exclude globs match."""

    workspace: str = Field(description="The workspace slug (bitbucket.org/<workspace>).")
    repositories: list[str] = Field(default_factory=list, description="Only these repository slugs; empty: "
                                    "every repository of the workspace that include/exclude keep.")

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, value: str) -> str:
        return each_matching([value], r"[\w.-]+", "is not a workspace slug (e.g. acme, without the host)")[0]

    @field_validator("repositories")
    @classmethod
    def _slugs(cls, slugs: list[str]) -> list[str]:
        return each_matching(slugs, r"[\w.-]+", "is not a repository slug (e.g. payments-api, without the workspace)")


class BitbucketOptions(HttpOptions):
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production (besides those Bitbucket types `Production`), which service "
        "each repository deploys, and how rollbacks and hotfixes are recognised. Deployments come from "
        "Bitbucket's deployments API, so job_pattern, branches and environment_pattern are not needed.",
    )


class BitbucketSource(SourceConfig):
    type: Literal["bitbucket"]
    base_url: BitbucketUrl = Field("https://api.bitbucket.org", description="The API host, without /2.0.")
    auth: BitbucketAuth
    scope: BitbucketScope
    options: BitbucketOptions = BitbucketOptions()
