"""Which partitions the sharded extraction mode reads (pipelines/sharded_assets.py): per source type, the scope
list a partition narrows to, as its scope model names it (connectors.core.options.Scope). Kept free of Dagster,
so the config validation (connectors/config.py) can check the partition keys without importing the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.core.options import Scope
from connectors.core.source import SourceType
from connectors.registry import source_types


def scope_list(source_type: SourceType) -> tuple[str, tuple[str, ...]] | None:
    """The scope field whose items are the partitions, and the scope fields that make that list incomplete; None:
    one partition per source. Repositories of an org or projects of a GitLab group are only found at run time,
    with credentials, so they cannot be partition keys: such a source is one partition. Jenkins lists no field:
    its rows' scope is the job full name, found by walking folders."""
    field = source_type.config_model.model_fields.get("scope") if source_type.config_model else None
    scope = field.annotation if field is not None else None
    if isinstance(scope, type) and issubclass(scope, Scope) and scope.listed:
        return scope.listed, scope.found_by
    return None


def per_scope(source_type: SourceType, group: str) -> bool:
    """Whether the group's partitions are the scope's items (else: one partition per source)."""
    return scope_list(source_type) is not None and group not in source_type.source_level_groups


@dataclass(frozen=True)
class Partition:
    source: str
    scope: str | None  # None: the whole source

    @property
    def key(self) -> str:
        # Source names are [a-z0-9_-]: the first ':' always ends the name.
        return self.source if self.scope is None else f"{self.source}:{self.scope}"

    @classmethod
    def of_key(cls, key: str) -> "Partition":
        source, _, scope = key.partition(":")
        return cls(source, scope or None)


def partitions_of(source_type: str, group: str, source: dict[str, Any]) -> list[Partition]:
    """The partitions of one configured source (its `type`, `name` and `scope` as written) for one group."""
    name = source["name"]
    of_type = source_types()[source_type]
    scope = source.get("scope") if isinstance(source.get("scope"), dict) else {}
    if not per_scope(of_type, group):
        return [Partition(name, None)]
    field, found_at_run_time = scope_list(of_type)
    values = scope.get(field) or []
    if any(scope.get(k) for k in found_at_run_time) or not isinstance(values, list) or not values:
        return [Partition(name, None)]
    return [Partition(name, v) for v in dict.fromkeys(str(v) for v in values)]


# Dagster's own rule (dagster/_core/definitions/partitions/utils/base.py, INVALID_PARTITION_SUBSTRINGS): '...'
# writes a key range in its UI, the others do not display. Copied so the message can name the source.
NOT_IN_PARTITION_KEYS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


def partition_key_problems(sources: list[dict[str, Any]]) -> list[str]:
    """One line per scope value (of sources as `partitions_of` reads them) that Dagster refuses as a
    partition key; empty when the sharded mode can load."""
    problems = []
    for source in sources:
        of_type = source_types().get(source["type"])
        for group in of_type.groups if of_type is not None else ():
            for partition in partitions_of(source["type"], group, source):
                bad = [s for s in NOT_IN_PARTITION_KEYS if partition.scope and s in partition.scope]
                line = (f"source '{source['name']}': scope value {partition.scope!r} cannot be a Dagster partition "
                        f"key (it contains {' and '.join(map(repr, bad))}); rename it in throughline.yml, or use "
                        "`extraction: {mode: single}`")
                if bad and line not in problems:
                    problems.append(line)
    return problems


def described(source) -> dict[str, Any]:
    """A validated source in the shape `partitions_of` reads (no credentials in it)."""
    scope = getattr(source, "scope", None)
    return {"type": source.type, "name": source.name, "scope": scope.model_dump() if scope is not None else {}}


def narrowed(source_type: str, source, partition: Partition):
    """The source config reading only the partition's scope."""
    if partition.scope is None:
        return source
    field, _ = scope_list(source_types()[source_type])
    return source.model_copy(update={"scope": source.scope.model_copy(update={field: [partition.scope]})})
