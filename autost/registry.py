"""A registry of named things of one kind (scores, search algorithms, datasets, energy models).

Each kind keeps one ``Registry``; its members register themselves where they are defined
(``REGISTRY.register(entry)``, ``entry.name`` the key). The modules that define the built-in
members are listed by name in the registry, and a registry may also name a package whose every
module defines members (a new score or block type is then one new file there); all are imported
the first time the registry is read, so every member is present whatever was imported first. The CLI's choices and help come from
``names()`` and ``help()``; an unknown name is one line listing the known ones.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from contextlib import contextmanager
from typing import Generic, Iterator, Mapping, Protocol, TypeVar

from autost.errors import BadInput


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class Registry(Mapping[str, T], Generic[T]):
    """Name -> entry, in registration order; a read-only mapping once loaded."""

    def __init__(self, kind: str, modules: tuple[str, ...] = (), package: str | None = None):
        self.kind = kind  # "score", "energy model", ... (error messages)
        self.modules = modules  # the modules that register the built-in members
        self.package = package  # every module of it registers members too (after ``modules``, by name)
        self._entries: dict[str, T] = {}
        self._origin: dict[str, str] = {}  # name -> the module that registered it
        self._loaded = False

    def _load(self) -> dict[str, T]:
        if not self._loaded:
            self._loaded = True  # first: a listed module reading the registry while it loads sees it as is
            for module in (*self.modules, *self._package_modules()):
                importlib.import_module(module)
            # the built-ins in the order of ``modules``, whichever was imported first; then the others
            rank = {module: i for i, module in enumerate(self.modules)}
            order = sorted(self._entries, key=lambda name: rank.get(self._origin[name], len(rank)))
            self._entries = {name: self._entries[name] for name in order}
        return self._entries

    def _package_modules(self) -> list[str]:
        if self.package is None:
            return []
        path = importlib.import_module(self.package).__path__
        return sorted(f"{self.package}.{info.name}" for info in pkgutil.iter_modules(path)
                      if not info.name.startswith("_"))

    def register(self, entry: T) -> T:
        """Add ``entry`` under ``entry.name``; a name taken already is an error. Returns ``entry``."""
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered already")
        self._entries[entry.name] = entry
        # the registering module, which orders the built-ins (``_load``)
        self._origin[entry.name] = sys._getframe(1).f_globals.get("__name__", "")
        return entry

    def unregister(self, name: str) -> None:
        del self._entries[name]
        del self._origin[name]

    @contextmanager
    def registered(self, entry: T) -> Iterator[T]:
        """``entry`` registered for the duration of the block (tests' toys)."""
        self._load()
        self.register(entry)
        try:
            yield entry
        finally:
            self.unregister(entry.name)

    def get(self, name: str) -> T:  # type: ignore[override]  # unknown names raise, they never default
        """The entry called ``name``; an unknown name is a one-line ``BadInput`` (a ``UsageError``
        and a ``ValueError``) listing the names."""
        entries = self._load()
        if name not in entries:
            raise BadInput(f"unknown {self.kind} {name!r}; choose one of {', '.join(entries)}")
        return entries[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._load())

    def help(self, default: str | None = None) -> str:
        """``name: help; ...`` for every entry (``help`` or ``summary`` attribute), marking the default."""
        parts = []
        for name, entry in self._load().items():
            text = getattr(entry, "help", None) or getattr(entry, "summary", "")
            parts.append(f"{name}{' (default)' if name == default else ''}: {text}")
        return "; ".join(parts)

    def __getitem__(self, name: str) -> T:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, name: object) -> bool:
        return name in self._load()
