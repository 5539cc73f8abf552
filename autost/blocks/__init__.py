"""Block types (attention types), one module each, registered in ``registry.ATTENTION``.

A new type is one new file that builds an ``AttentionType`` and calls ``register`` (see
``registry.py`` and docs/extending.md); a built-in's module is also listed in
``ATTENTION``'s modules, so it is loaded whatever was imported first.
"""
from autost.blocks.registry import (ATTENTION, DEFAULT_ATTENTION, AttentionType, attention_names, attention_type,
                                    register, unregister)

__all__ = ["ATTENTION", "DEFAULT_ATTENTION", "AttentionType", "attention_names", "attention_type", "register",
           "unregister"]
