"""Every source type the config may name: each folder of `connectors/` whose package exposes a ``SOURCE``, plus
those of installed packages.

An in-repo source is found by itself: a new folder ``connectors/<name>/`` whose ``__init__.py`` sets
``SOURCE = SourceType(name="<name>", ..., config_model=...)`` needs no edit here nor in connectors/config.py
(docs/ADDING_A_SOURCE.md; `make new-source NAME=...` writes one). A source type can also live in its own
package: it declares an entry point in the group ``throughline.sources`` pointing at its ``SourceType``
(which carries its ``config_model``), e.g. in its pyproject.toml::

    [project.entry-points."throughline.sources"]
    acme = "acme_throughline:SOURCE"

Once the package is installed, ``type: acme`` is a valid source in throughline.yml, its raw assets appear
in Dagster and ``throughline doctor`` runs its check, without an edit to this repository.
"""

import importlib
import pkgutil
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import get_args

import connectors
from connectors.core.errors import ConfigError
from connectors.core.source import SourceType

ENTRY_POINT_GROUP = "throughline.sources"
# Folders of connectors/ that hold what every source shares, not a source.
NOT_SOURCES = frozenset({"core", "kit"})


@cache
def built_in() -> dict[str, SourceType]:
    """The source types of this repository's connectors/ folders, by name (folder order)."""
    found: dict[str, SourceType] = {}
    for module in sorted(pkgutil.iter_modules(connectors.__path__), key=lambda m: m.name):
        if not module.ispkg or module.name in NOT_SOURCES:
            continue
        package = importlib.import_module(f"{connectors.__name__}.{module.name}")
        source_type = getattr(package, "SOURCE", None)
        if source_type is None:
            continue  # a folder of helpers, not a source
        where = f"connectors/{module.name}/__init__.py"
        if not isinstance(source_type, SourceType):
            raise ConfigError(f"{where}: SOURCE is a {type(source_type).__name__}, not a SourceType")
        if source_type.name != module.name:
            raise ConfigError(f"{where}: SOURCE names source type '{source_type.name}': name its folder after it "
                              f"(connectors/{source_type.name}/)")
        check_config_model(source_type, f"source type '{source_type.name}' ({where})")
        found[source_type.name] = source_type
    return found


def _load(entry: EntryPoint) -> SourceType:
    where = f"entry point '{entry.name} = {entry.value}' (group {ENTRY_POINT_GROUP}"
    where += f", package {entry.dist.name})" if entry.dist is not None else ")"
    try:
        source_type = entry.load()
    except Exception as exc:  # noqa: BLE001 - any import failure of a plugin is reported the same way
        raise ConfigError(f"{where} cannot be imported ({type(exc).__name__}: {exc}): fix or uninstall that "
                          "package") from None
    if not isinstance(source_type, SourceType):
        raise ConfigError(f"{where} points at a {type(source_type).__name__}, not a SourceType: point it at the "
                          "module's SOURCE")
    if source_type.name != entry.name:
        raise ConfigError(f"{where} loads source type '{source_type.name}': name the entry point after it")
    if source_type.name in built_in():
        raise ConfigError(f"{where} names source type '{source_type.name}', which is built in: rename the plugin's "
                          "type (and its entry point)")
    check_config_model(source_type, where)
    return source_type


def check_config_model(source_type: SourceType, where: str) -> None:
    """A config model must name its type (the union's tag) and its instance, as every `sources:` entry does."""
    model = source_type.config_model
    if model is None:
        raise ConfigError(f"{where}: source type '{source_type.name}' has no config_model, so throughline.yml "
                          "could not validate its entries; give its SourceType one (docs/ADDING_A_SOURCE.md)")
    fields = model.model_fields
    if "type" not in fields or get_args(fields["type"].annotation) != (source_type.name,):
        raise ConfigError(f"{where}: {model.__name__} needs the field `type: Literal[\"{source_type.name}\"]`")
    if "name" not in fields:
        raise ConfigError(f"{where}: {model.__name__} has no `name` field: derive it from "
                          "connectors.core.options.SourceConfig")
    if "options" not in fields:  # the engine, the doctor and the dbt vars read `source.options`
        raise ConfigError(f"{where}: {model.__name__} has no `options` field: add one (an HttpOptions subclass "
                          "for an HTTP source)")


@cache
def source_types() -> dict[str, SourceType]:
    """The in-repo source types plus every installed plugin's, by name.

    Read once per process (importing a plugin can be slow); ``source_types.cache_clear()`` reads the
    installed packages again. A plugin that cannot be loaded is a ConfigError naming its package.
    """
    found = dict(built_in())
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        source_type = _load(entry)
        if source_type.name in found:
            raise ConfigError(f"two installed packages declare source type '{source_type.name}' (group "
                              f"{ENTRY_POINT_GROUP}): uninstall one")
        found[source_type.name] = source_type
    return found
