"""One `type: github` entry of throughline.yml: tokens or a GitHub App, repositories or an org, and options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.core.options import (
    BaseUrl, DeploymentRules, GlobScope, HttpOptions, SourceConfig, StrictModel, each_matching,
)


class GitHubAuth(StrictModel):
    token: SecretStr | None = Field(None, description="Personal access token (classic or fine-grained).")
    tokens: list[SecretStr] = Field(
        default_factory=list,
        description="More tokens of the same access; requests are spread over all of them, and when one's "
        "hourly quota is used up the others carry on.",
    )

    app_id: str | None = Field(None, description="GitHub App id (with private_key): the connector acts as the app.")
    private_key: SecretStr | None = Field(None, description="The app's PEM private key, e.g. ${GITHUB_APP_KEY}.")
    installation_id: int | None = Field(
        None, description="The app's installation on the org or user; found through the scope when omitted."
    )

    @model_validator(mode="after")
    def _some_token(self) -> GitHubAuth:
        app = self.app_id is not None or self.private_key is not None
        if app and (self.app_id is None or self.private_key is None):
            raise ValueError("a GitHub App needs both app_id and private_key")
        if app and self.private_key is not None and "PRIVATE KEY" not in self.private_key.get_secret_value():
            raise ValueError("private_key is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        if self.token is None and not self.tokens and not app:
            raise ValueError("give token (or a list under tokens), or a GitHub App's app_id and private_key")
        return self

    def secrets(self) -> list[str]:
        values = ([self.token] if self.token is not None else []) + list(self.tokens)
        return list(dict.fromkeys(v.get_secret_value() for v in values))


class GitHubScope(GlobScope):
    """Repositories listed by owner/name, or every repository of an org whose name the globs match."""

    repos: list[str] = Field(default_factory=list, description="owner/name of each repository.")
    org: str | None = Field(None, description="Load every repository of this organisation (include/exclude: globs "
                            "on the repository name).")
    include_archived: bool = False

    listed, found_by = "repos", ("org",)
    give_one = "list repos, or give an org (with include/exclude globs)"

    @field_validator("repos")
    @classmethod
    def _owner_name(cls, repos: list[str]) -> list[str]:
        return each_matching(repos, r"[\w.-]+/[\w.-]+", "is not owner/name (e.g. acme/payments-api)")


class GitHubOptions(HttpOptions):
    max_rate_limit_wait_seconds: float = Field(
        900, ge=0,
        description="When every token's quota is used up, sleep to the reset if it is at most this far away; "
        "otherwise stop (what was read is saved).",
    )
    conditional_requests: bool = Field(
        True, description="Send the ETag of each list page read last time; an unchanged page (304) costs no quota."
    )
    max_concurrent_repos: int = Field(
        4, ge=1, le=32,
        description="Repositories read at the same time, each in its own thread and HTTP session; every "
        "warehouse write still goes one at a time. 1 reads them one after another.",
    )
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which deployments count as production, which service each repository deploys, and how "
        "rollbacks and hotfixes are recognised. Deployments to a production environment also get a change "
        "set: the commits since the previous deployment of that environment, from the compare API.",
    )
    incident_labels: list[str] = Field(
        default_factory=lambda: ["incident"],
        description="Issues with one of these labels (case-insensitive) are incidents (passed to dbt as the "
        "var github_incident_labels).",
    )

    @model_validator(mode="after")
    def _waits_fit(self) -> GitHubOptions:
        if self.max_rate_limit_wait_seconds > self.max_total_wait_seconds:
            raise ValueError(
                f"max_rate_limit_wait_seconds ({self.max_rate_limit_wait_seconds:g}) is longer than "
                f"max_total_wait_seconds ({self.max_total_wait_seconds:g}), so a rate-limit wait it allows would "
                "stop the source anyway: raise max_total_wait_seconds or lower max_rate_limit_wait_seconds"
            )
        return self


class GitHubSource(SourceConfig):
    type: Literal["github"]
    base_url: BaseUrl = "https://api.github.com"
    auth: GitHubAuth
    scope: GitHubScope
    options: GitHubOptions = GitHubOptions()
