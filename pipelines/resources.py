"""The one resource every asset shares: the validated configuration and the warehouse location."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from connectors.config import ThroughlineConfig, config_path, load_config, warehouse_path
from connectors.core.raw import RawStore


class ThroughlineResource(dg.ConfigurableResource):
    """Reads throughline.yml at run time, so a changed config needs no redeploy.

    ``config_file`` empty means THROUGHLINE_CONFIG, else ./throughline.yml.
    """

    config_file: str = ""

    def config(self) -> ThroughlineConfig:
        return load_config(self.config_file or config_path())

    def warehouse(self) -> Path:
        return warehouse_path()

    def raw_store(self, path: Path | None = None, config: ThroughlineConfig | None = None) -> RawStore:
        """The raw store of the warehouse (or of the shard file ``path``) with `warehouse:`'s DuckDB memory
        limit, spill folder and threads (from ``config`` when the caller has read it already)."""
        path = path or self.warehouse()
        return RawStore(path, settings=(config or self.config()).warehouse.duckdb_settings(path))
