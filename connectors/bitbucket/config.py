"""One `type: bitbucket` entry of throughline.yml: Bitbucket Cloud's 2.0 API (a workspace) or, with
`flavour: datacenter`, Bitbucket Data Center's 1.0 API (a project); credentials and options
(docs/sources/bitbucket.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.core.options import (
    DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel, each_matching, host_url,
)

CLOUD_API = "https://api.bitbucket.org"
BitbucketUrl = host_url("/2.0", "/rest/api/1.0", "/rest/api/latest",
                        instead="the host only (https://api.bitbucket.org for Cloud; your server's URL with its "
                        "context path for Data Center, e.g. https://bitbucket.acme.example)")


class BitbucketAuth(StrictModel):
    """With `username`: HTTP Basic (Cloud: an API token or app password, with the Atlassian account email or
    Bitbucket username as the token's kind asks; Data Center: the user's password or HTTP access token);
    without: an access token as Bearer (Cloud: workspace/project/repository; Data Center: an HTTP access
    token of a user, project or repository)."""

    username: str | None = Field(None, description="For Basic auth; omit to send the token as Bearer.")
    token: SecretStr = Field(description="API token, app password or access token with repository (and Cloud: "
                             "pipeline) read scopes, written as ${BITBUCKET_TOKEN}.")


class BitbucketScope(GlobScope):
    """Every repository of one workspace (Cloud) or project (Data Center) whose slug the include/exclude globs
    match."""

    workspace: str | None = Field(None, description="Cloud: the workspace slug (bitbucket.org/<workspace>).")
    project: str | None = Field(None, description="Data Center: the project key (e.g. MOB, as in "
                                "/projects/MOB/repos/...).")
    repositories: list[str] = Field(default_factory=list, description="Only these repository slugs; empty: "
                                    "every repository of the workspace or project that include/exclude keep.")

    @field_validator("workspace")
    @classmethod
    def _workspace(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return each_matching([value], r"[\w.-]+", "is not a workspace slug (e.g. acme, without the host)")[0]

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Data Center keys are letters, digits and underscores; a personal project is ~username
        return each_matching([value], r"~?[A-Za-z0-9_]+", "is not a project key (e.g. MOB, not the project's "
                             "name or URL)")[0]

    @field_validator("repositories")
    @classmethod
    def _slugs(cls, slugs: list[str]) -> list[str]:
        return each_matching(slugs, r"[\w.-]+", "is not a repository slug (e.g. payments-api, without the "
                             "workspace or project)")


class BitbucketOptions(HttpOptions):
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Cloud: which environments are production (besides those Bitbucket types `Production`), which "
        "service each repository deploys, and how rollbacks and hotfixes are recognised. Deployments come from "
        "Bitbucket's deployments API, so job_pattern, branches and environment_pattern are not needed. Data "
        "Center has no deployments API: send its deployments through the events source.",
    )


class BitbucketSource(SourceConfig):
    type: Literal["bitbucket"]
    flavour: Literal["cloud", "datacenter"] = Field(
        "cloud", description="cloud: bitbucket.org's 2.0 API; datacenter: a Bitbucket Data Center (or Server) "
        "and its 1.0 API.")
    base_url: BitbucketUrl | None = Field(None, description="Cloud: the API host, without /2.0 (default "
                                          f"{CLOUD_API}); Data Center: the server's URL, without /rest/api/1.0.")
    auth: BitbucketAuth
    scope: BitbucketScope
    options: BitbucketOptions = BitbucketOptions()

    @model_validator(mode="after")
    def _flavour_fields(self) -> BitbucketSource:
        # Each message names the field to fix, as pydantic's own do.
        scope = self.scope
        if self.flavour == "cloud":
            if scope.project is not None:
                raise ValueError("scope.project is for flavour: datacenter; Bitbucket Cloud reads a scope.workspace")
            if scope.workspace is None:
                raise ValueError("scope.workspace is missing: give the workspace slug (bitbucket.org/<workspace>)")
            if self.base_url is None:
                # (the default depends on the flavour, so it is set here; the model is frozen after validation)
                object.__setattr__(self, "base_url", CLOUD_API)
            return self
        if scope.workspace is not None:
            raise ValueError("scope.workspace is for Bitbucket Cloud; flavour: datacenter reads a scope.project "
                             "(its key, e.g. MOB)")
        if scope.project is None:
            raise ValueError("scope.project is missing: give the Data Center project key (e.g. MOB)")
        if self.base_url is None or self.base_url.rstrip("/") == CLOUD_API:
            raise ValueError("base_url: flavour: datacenter needs your server's URL (e.g. "
                             "https://bitbucket.acme.example), not bitbucket.org's")
        return self
