"""One `type: azure_devops` entry of throughline.yml: Azure DevOps Services (dev.azure.com) or Server, an
organization (Server: a collection), its projects, a personal access token and options
(docs/sources/azure_devops.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator

from connectors.core.options import (
    BaseUrl, DeploymentRules, HttpOptions, SourceConfig, StrictModel, each_matching,
)

# The newest version Services and Server 2022.1+ both answer for every endpoint read here.
API_VERSION = "7.1"


class AzureDevOpsAuth(StrictModel):
    """A personal access token, sent as HTTP Basic with an empty user name (as Microsoft documents it)."""

    token: SecretStr = Field(description="A personal access token with Work Items, Code, Build, Environment and "
                             "Project and Team (Read) scopes, written as ${AZURE_DEVOPS_PAT}.")


class AzureDevOpsScope(StrictModel):
    organization: str = Field(description="The organization (dev.azure.com/<organization>); on Server the "
                              "collection (e.g. DefaultCollection).")
    projects: list[str] = Field(min_length=1, description="The projects to read, by name; each is one scope: "
                                "a project that fails costs only its own streams.")

    @field_validator("organization")
    @classmethod
    def _organization(cls, value: str) -> str:
        return each_matching([value], r"[\w.-]+", "is not an organization or collection name (e.g. acme, "
                             "without the host)")[0]

    @field_validator("projects")
    @classmethod
    def _projects(cls, values: list[str]) -> list[str]:
        return each_matching(values, r"[^/\\?#]+", "is not a project name (e.g. Data, without the organization)")


class AzureDevOpsOptions(HttpOptions):
    page_size: int = Field(200, ge=1, le=200, description="Records per page, and work items per batch read "
                           "(at most 200: the workitemsbatch limit).")
    api_version: str = Field(API_VERSION, pattern=r"^\d+\.\d+(-preview(\.\d+)?)?$",
                             description="The `api-version` of every request: 7.1 for Services and Server "
                             "2022.1+, 7.0 for Server 2022, 6.0 for Server 2020.")
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production, which service each repository deploys, and how "
        "rollbacks and hotfixes are recognised. Deployments come from the environments' deployment records, so "
        "job_pattern, branches and environment_pattern are not needed.",
    )


class AzureDevOpsSource(SourceConfig):
    type: Literal["azure_devops"]
    base_url: BaseUrl = Field("https://dev.azure.com", description="https://dev.azure.com for Services; on "
                              "Server the server's URL with its virtual directory (https://tfs.acme.local/tfs), "
                              "without the collection.")
    auth: AzureDevOpsAuth
    scope: AzureDevOpsScope
    options: AzureDevOpsOptions = AzureDevOpsOptions()
