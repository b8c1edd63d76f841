"""The API worlds the simulator serves, each under its own prefix of the one server (api.py says how to
write one). Adding one: write ``<system>_api.py`` and add its class to ``APIS``."""

from __future__ import annotations

from typing import Any

from .api import MountedApi
from .azure_devops_api import AzureDevOpsApi
from .bitbucket_api import BitbucketApi
from .bitbucket_dc_api import BitbucketDataCenterApi
from .circleci_api import CircleCIApi
from .github_api import GitHubApi
from .gitlab_api import GitLabApi
from .jenkins_api import JenkinsApi
from .jira_api import JiraApi
from .linear_api import LinearApi
from .model import Org
from .opsgenie_api import OpsgenieApi
from .pagerduty_api import PagerDutyApi

APIS: tuple[type[MountedApi], ...] = (
    JiraApi,
    GitHubApi,
    JenkinsApi,
    GitLabApi,
    CircleCIApi,
    OpsgenieApi,
    PagerDutyApi,
    BitbucketApi,
    BitbucketDataCenterApi,
    LinearApi,
    AzureDevOpsApi,
)
MOUNTS: dict[str, type[MountedApi]] = {api.PREFIX: api for api in APIS}


def build_mounts(org: Org, options: dict[str, dict[str, Any]] | None = None) -> dict[str, MountedApi]:
    """Prefix -> mounted API; ``options[prefix]`` are keyword options of that API (tokens, page caps...)."""
    options = options or {}
    unknown = set(options) - set(MOUNTS)
    if unknown:
        raise ValueError(f"no mounted API named {sorted(unknown)}; the simulator has {sorted(MOUNTS)}")
    return {prefix: api(org, **options.get(prefix, {})) for prefix, api in MOUNTS.items()}


def shorthand_options(shorthands: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Server keywords named by an API's ``SHORTHANDS`` as mount options (``github_tokens`` -> github.tokens)."""
    options: dict[str, dict[str, Any]] = {}
    for name, value in shorthands.items():
        api = next((a for a in MOUNTS.values() if name in a.SHORTHANDS), None)
        if api is None:
            raise TypeError(f"SimulatorServer() got an unexpected keyword argument {name!r}")
        options.setdefault(api.PREFIX, {})[api.SHORTHANDS[name]] = value
    return options
