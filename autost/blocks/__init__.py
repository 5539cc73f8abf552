"""Block types (attention types), one module each; importing the package registers the built-ins.

A new type is one new file that builds an ``AttentionType`` and calls ``register`` (see
``registry.py`` and the README's "Extending" section), imported here.
"""
from autost.blocks.registry import (ATTENTION, DEFAULT_ATTENTION, AttentionType, attention_names, attention_type,
                                    register, unregister)
# registers the built-in types, Spikformer's first (the default)
from autost.blocks import ssa  # noqa: F401,E402  isort: skip
from autost.blocks import sdsa  # noqa: F401,E402  isort: skip
from autost.blocks import qk  # noqa: F401,E402  isort: skip

__all__ = ["ATTENTION", "DEFAULT_ATTENTION", "AttentionType", "attention_names", "attention_type", "register",
           "unregister"]
