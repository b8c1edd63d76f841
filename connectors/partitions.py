"""Which partitions the sharded extraction mode reads (pipelines/sharded_assets.py): per source type, the scope
list a partition narrows to. Kept free of Dagster, so the config validation (connectors/config.py) can check
the partition keys without importing the orchestrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Per source type: the scope list a partition narrows to, and the scope keys that make that list incomplete.
# Repositories of an org or projects of a GitLab group are only found at run time, with credentials, so they
# cannot be partition keys: such a source is one partition. Jenkins is one partition per source: its rows'
# scope is the job full name, found by walking folders, so no configured list names them.
SCOPE_LISTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "jira": ("projects", ()),
    "github": ("repos", ("org",)),
    "gitlab": ("projects", ("groups",)),
    "circleci": ("projects", ("org",)),
}
# Groups that read instance-wide lists (Jira statuses, fields, the project list): one partition per source, or
# every scope's shard would store the same instance-wide rows again.
SOURCE_LEVEL_GROUPS = {("jira", "statuses"), ("jira", "projects")}


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
    listed = SCOPE_LISTS.get(source_type)
    scope = source.get("scope") if isinstance(source.get("scope"), dict) else {}
    if listed is None or (source_type, group) in SOURCE_LEVEL_GROUPS:
        return [Partition(name, None)]
    field, found_at_run_time = listed
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
    from connectors.registry import source_types  # late: the registry imports every connector

    problems = []
    for source in sources:
        for group in dict.fromkeys(g for t in source_types().values() if t.name == source["type"] for g in t.groups):
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
    field, _ = SCOPE_LISTS[source_type]
    return source.model_copy(update={"scope": source.scope.model_copy(update={field: [partition.scope]})})
