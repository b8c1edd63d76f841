"""Moved to the source kit (connectors/kit/server.py), where connectors outside this repository can use it."""

from connectors.kit import ApiServer as RoutesServer

__all__ = ["RoutesServer"]
