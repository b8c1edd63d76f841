"""One `type: events` entry of throughline.yml: where the deployment and incident files or tables are."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from connectors.core.files import FileInput
from connectors.core.options import DeploymentRules, SourceConfig, StrictModel


class EventsOptions(StrictModel):
    deployments: DeploymentRules = Field(
        default_factory=DeploymentRules,
        description="Which environments are production and which service each `service` value is counted as "
        "(services: {name or glob: service}); rollback_pattern/hotfix_pattern apply to the row's name and "
        "version when it has no is_rollback/is_hotfix. job_pattern, branches and environment_pattern are not used: "
        "every row is a deployment and names its environment.",
    )


class EventsSource(SourceConfig):
    """Deployments and incidents from files or a table, for systems without a connector (docs/sources/events.md)."""

    type: Literal["events"]
    deployments: FileInput | None = Field(None, description="Where the deployment events are.")
    incidents: FileInput | None = Field(None, description="Where the incident events are.")
    options: EventsOptions = EventsOptions()

    @model_validator(mode="after")
    def _something(self) -> EventsSource:
        if self.deployments is None and self.incidents is None:
            raise ValueError("give deployments and/or incidents, each with a path (folder) or a table")
        return self
