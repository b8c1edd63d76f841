"""One `type: outcomes` entry of throughline.yml: where the KPI, key result and survey files or tables are."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from connectors.core.files import FileInput
from connectors.core.options import SourceConfig, StrictModel


class OutcomesOptions(StrictModel):
    """The outcomes source has no options yet; the block exists because every source has one (pipelines read it)."""


class OutcomesSource(SourceConfig):
    """KPI series, key results, their check-ins and team surveys from files or tables (docs/sources/outcomes.md)."""

    type: Literal["outcomes"]
    kpis: FileInput | None = Field(None, description="KPI values: kpi, observed_on, value, value_stream/product.")
    key_results: FileInput | None = Field(None, description="Objectives' key results with targets and links to work.")
    key_result_values: FileInput | None = Field(None, description="Key result check-ins: key_result_id, observed_on, value.")
    surveys: FileInput | None = Field(None, description="Team survey results: team, surveyed_on, dimension, score.")
    options: OutcomesOptions = OutcomesOptions()

    @model_validator(mode="after")
    def _needs_an_input(self) -> OutcomesSource:
        if all(getattr(self, k) is None for k in ("kpis", "key_results", "key_result_values", "surveys")):
            raise ValueError("give at least one of kpis, key_results, key_result_values, surveys, each with a path "
                             "(folder) or a table")
        return self
