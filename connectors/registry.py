"""Every source type the config may name. A new source adds one line here (see docs/ARCHITECTURE.md)."""

from connectors import github, jira
from connectors.core.source import SourceType

SOURCE_TYPES: dict[str, SourceType] = {
    s.name: s
    for s in (
        jira.SOURCE,
        github.SOURCE,
        # <source types: add `yours.SOURCE,` above this line (and import the module)>
    )
}
