"""Every source type the config may name. A new source adds one line here (see docs/ARCHITECTURE.md)."""

from connectors import github, jira
from connectors import gitlab
from connectors import circleci
from connectors import events
from connectors import jenkins
from connectors.core.source import SourceType

SOURCE_TYPES: dict[str, SourceType] = {
    s.name: s
    for s in (
        jira.SOURCE,
        github.SOURCE,
        gitlab.SOURCE,
        circleci.SOURCE,
        events.SOURCE,
        jenkins.SOURCE,
        # <source types: add `yours.SOURCE,` above this line (and import the module)>
    )
}
