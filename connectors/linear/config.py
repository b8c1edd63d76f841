"""One `type: linear` entry of throughline.yml: the API root, an API key and options (docs/sources/linear.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from connectors.core.options import BaseUrl, HttpOptions, SourceConfig, StrictModel

# Issues per page. Linear refuses a query above 10,000 complexity points; an issue with its first 50 history
# entries and 10 labels costs about 140, so 50 issues a page stay near 7,000 (docs/sources/linear.md).
MAX_ISSUE_PAGE = 50


class LinearAuth(StrictModel):
    api_key: SecretStr = Field(
        description="A personal API key (Settings > Security & access > Personal API keys; read access is "
        "enough), written as ${LINEAR_API_KEY}; sent as `Authorization: <key>`, without `Bearer`."
    )


class LinearOptions(HttpOptions):
    """Paging, retries, lookback and start_date (HttpOptions), and which teams to read."""

    page_size: int = Field(MAX_ISSUE_PAGE, ge=1, le=MAX_ISSUE_PAGE,
                           description=f"Issues per page (at most {MAX_ISSUE_PAGE}: Linear's complexity cap).")
    teams: list[str] = Field(
        default_factory=list,
        description="Only the issues and cycles of these team keys (`ENG`, the prefix of an issue's identifier); "
        "empty: every team the key can see.",
    )


class LinearSource(SourceConfig):
    """One `type: linear` entry of throughline.yml."""

    type: Literal["linear"]
    base_url: BaseUrl = Field("https://api.linear.app", description="The API root; the GraphQL endpoint is "
                              "<base_url>/graphql.")
    auth: LinearAuth
    options: LinearOptions = LinearOptions()
