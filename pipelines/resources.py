"""The one resource every asset shares: the validated configuration and the warehouse location."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from connectors.config import ThroughlineConfig, config_path, load_config, warehouse_path


class ThroughlineResource(dg.ConfigurableResource):
    """Reads throughline.yml at run time, so a changed config needs no redeploy.

    ``config_file`` empty means THROUGHLINE_CONFIG, else ./throughline.yml.
    """

    config_file: str = ""

    def config(self) -> ThroughlineConfig:
        return load_config(self.config_file or config_path())

    def warehouse(self) -> Path:
        return warehouse_path()
