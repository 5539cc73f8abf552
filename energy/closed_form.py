"""Init-time energy without a forward pass: per-layer firing rates by position, calibrated once.

At initialization a layer's input firing rate depends on where the layer sits (its kind and
its block index), hardly on the architecture around it (issue 18 measured under 2% spread
across tiny-space architectures at CIFAR shape). So a few forward passes of architectures
sampled from the space give a table of rates per position, and an architecture's energy is
then ``sum of E x MACs x rate`` over its layers, with the MACs in closed form
(``autost.cost.layer_macs``): no model is built.

Positions: the stem's layers by name and the network's width (``D32/``: a narrow stem's 2- and
4-channel first stages fire at other rates than a wide one's, and the stem carries most of a small
network's memory-aware energy), measured at every (width, tau, threshold, T) of the space by
single-block networks (``stem_archs``), several weight draws each where the space is small; a
block's layers by their name inside the block and the block's index, a block deeper than any calibrated one taking the deepest calibrated block's
rates (and a block missing from the calibration the nearest calibrated one's). A block whose
attention is not Spikformer's SSA, and any layer of a network whose neurons are not at
Spikformer's tau 2 and threshold 1 or whose shortcut is not Spikformer's spike shortcut, are
positions of their own (prefixed ``qk/``, ``tau1.5,th0.5/``, ``membrane/``): their rates differ; the
calibration covers each such setting of the space. Below, "the neurons" means the network
setting: shortcut, tau and threshold together.
An architecture with a TIME_STEPS gene has its T in every position too (``T2/``): a rate is an
average over the T steps, and LIF membranes charge up over the first ones, so it grows with T.
Measuring every (T, attention, tau, threshold) on every block would cost their product in forward
passes, so the calibration measures every (attention, tau, threshold) at one T, every (T,
attention) at one neuron setting, each on every block, and every (T, tau, threshold) with the
first sample's mix of attention types (``calibration_archs``). A combination still not measured
(say an attention type that mix lacks) is looked up as its rate at a measured T plus how much the
rate of a measured setting changes from that T to its own, the same neurons preferred, then
the same attention (``RateTable.lookup``): T and the neurons interact (the membrane charges up at
a pace set by tau and the threshold), the attention type less (``benchmarks/bench_hybrid.py``
measures the error against a table of every combination). Only the rate-based models
(``spikformer-45nm`` and its precision variants) can be written this way; the others count
what each spike actually reaches.

The table is ours (no paper defines it); ``benchmarks/bench_closed_form.py`` measures its
error against the measured estimate.

A table is cached on disk (``cached_table``) under ``$AUTOST_CACHE/energy_rates``, else
``~/.cache/autost/energy_rates``, keyed by everything that changes it, so a second search of
the same space, geometry, dataset and seed skips the calibration.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import random
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Collection, Iterator, NamedTuple

import torch

from autost.arch import Arch
from autost.blocks import DEFAULT_ATTENTION
from autost.cost import (Part, WeightLayer, block_part, head_part, layer_macs, layer_spike_ops, lif_elements,
                         stem_part)
from autost.layers import DEFAULT_SHORTCUT, SHORTCUTS, SPIKFORMER_TAU, SPIKFORMER_THRESHOLD
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.io import atomic_write_json
from autost.memory import check_fits
from autost.model import build_model, token_grid
from autost.seeding import arch_seed
from autost.space import SearchSpace
from datasets.cache import cache_dir, digest
from energy.counters import closed_form_of
from energy.models import EnergyModel, get_model
from energy.probe import probe_layers
from energy.record import PJ_PER_MJ, EnergyRecord

_BLOCK = re.compile(r"^blocks\.(\d+)\.(.+)$")
_STEPS = re.compile(r"^T\d+$")
_WIDTH = re.compile(r"^D(\d+)$")
# Architectures whose forward passes calibrate a table: the error against the measured
# estimate does not shrink with more (benchmarks/results/energy_closed_form.json).
CALIBRATION_ARCHS = 6
# Bumped whenever what a table measures changes (the model's layers, the rate definition):
# older cached tables then miss instead of being reused.
# 2: T is part of a position (TIME_STEPS gene); 3: the SHORTCUT gene (spike by default); 4: LIF output
# rates (kind "neuron") and the batch size, for the memory-aware closed form; 5: the stem's rates per
# width (``D32/``) and not the shortcut, measured at every (width, tau, threshold, T) of the space
TABLE_VERSION = 5
# Forward passes that measure the stems of ``stem_archs``, shared out as weight draws of each: a narrow
# stem's rates vary from draw to draw (at D16 the rate into its last conv by 12%, docs/energy.md) and
# the table wants their mean; a space with many stems (widths x tau x threshold x T) gets one draw each.
STEM_PASSES = 16
CACHE_SUB = "energy_rates"


def network_setting(arch: Arch) -> str:
    """The network-level genes that change every rate, as a position prefix: ``""`` for
    Spikformer's (spike shortcut, tau 2, threshold 1), else e.g. ``"membrane,tau1.5,th0.5"``."""
    parts = [] if arch.shortcut == DEFAULT_SHORTCUT else [arch.shortcut]
    neurons = neuron_setting(arch)
    return ",".join(parts + [neurons] if neurons else parts)


def neuron_setting(arch: Arch) -> str:
    """``network_setting`` without the shortcut: ``""`` at Spikformer's tau 2 and threshold 1, else e.g. ``"tau1.5,th0.5"``."""
    if (arch.tau, arch.threshold) == (SPIKFORMER_TAU, SPIKFORMER_THRESHOLD):
        return ""
    return f"tau{arch.tau:g},th{arch.threshold:g}"


def _is_network(token: str) -> bool:
    return token.startswith("tau") or token.split(",")[0] in SHORTCUTS


def position(name: str, arch: Arch | None = None) -> tuple[str, int]:
    """``("attn.q.linear", 2)`` for ``blocks.2.attn.q.linear``; ``(name, -1)`` outside the blocks.
    With ``arch``, a block of another attention type than SSA, and every layer of a network with
    another shortcut or other neuron parameters, get a prefix naming them
    (``("qk/attn.q.linear", 2)``, ``("membrane,tau1.5,th0.5/head", -1)``), and so does the T of an
    architecture with a TIME_STEPS gene (``("qk/T2/attn.q.linear", 2)``); a stem layer's position
    names the width last and not the shortcut, which changes no stem rate
    (``("tau1.5/T2/D32/stem.stages.3.conv", -1)``): a narrow stem fires differently (``stem_archs``)."""
    if arch is not None:
        return locator(arch)(name)
    match = _BLOCK.match(name)
    return (match.group(2), int(match.group(1))) if match else (name, -1)


def locator(arch: Arch) -> Callable[[str], tuple[str, int]]:
    """``position(name, arch)`` for one architecture, its prefixes worked out once (the closed form
    looks up some fifty layers of every candidate)."""
    network = network_setting(arch)
    tail = [network] if network else []
    steps = [f"T{arch.time_steps}"] if arch.time_steps is not None else []
    network_prefix = "".join(f"{p}/" for p in tail + steps)
    neurons = neuron_setting(arch)
    stem = "".join(f"{p}/" for p in ([neurons] if neurons else []) + steps) + f"D{arch.embed_dim}/"
    blocks = ["".join(f"{p}/" for p in ([a] if a != DEFAULT_ATTENTION else []) + tail + steps) for a in arch.attention]

    def locate(name: str) -> tuple[str, int]:
        if name.startswith("blocks."):
            index, part = name[7:].split(".", 1)
            block = int(index)
            return blocks[block] + part, block
        return (stem if is_stem(name) else network_prefix) + name, -1
    return locate


def is_stem(name: str) -> bool:
    """A layer of the stem (``stem.stages.0.conv``, ``stem.lifs.3``, ...), whose positions carry the width."""
    return name.startswith("stem.")


def _split(part: str) -> tuple[tuple[str, ...], int | None, str]:
    """``"qk/T2/attn.q.linear"`` -> ``(("qk",), 2, "attn.q.linear")``: setting, T (None without), layer
    (with a stem's width: ``"T2/D32/stem.lifs.0"`` -> ``((), 2, "D32/stem.lifs.0")``)."""
    *prefix, layer = part.split("/")
    if prefix and _WIDTH.match(prefix[-1]):  # a stem's width belongs to its layer: ``D32/stem.lifs.0``
        layer = f"{prefix.pop()}/{layer}"
    if prefix and _STEPS.match(prefix[-1]):
        return tuple(prefix[:-1]), int(prefix[-1][1:]), layer
    return tuple(prefix), None, layer


def _unwidth(part: str) -> tuple[str, int | None]:
    """``"T2/D32/stem.lifs.0"`` -> ``("T2/*/stem.lifs.0", 32)``; a position without a width: ``(part, None)``."""
    *prefix, layer = part.split("/")
    match = _WIDTH.match(prefix[-1]) if prefix else None
    if match is None:
        return part, None
    return "/".join([*prefix[:-1], "*", layer]), int(match.group(1))


def _genes(setting: tuple[str, ...]) -> tuple[str, str]:
    """The attention type and network setting (``network_setting``) a position's setting names
    ("" for Spikformer's)."""
    attention = setting[0] if setting and not _is_network(setting[0]) else DEFAULT_ATTENTION
    return attention, setting[-1] if setting and _is_network(setting[-1]) else ""


def _shifted(rate: float, before: float, after: float) -> float:
    """``rate`` moved as much as a reference rate moved from ``before`` to ``after``, kept in
    [0, 1] (a rate is a fraction of inputs). A shift, not a ratio: on hybrid_tiny at CIFAR shape
    a reference rate near 0 at T 1 made a ratio explode (an energy many times the measured one)."""
    return min(1.0, max(0.0, rate + after - before))


@dataclass(frozen=True)
class LayerRate:
    kind: str  # "MAC" (real-valued input), "AC" (spikes) or "neuron" (a LIF: ``rate`` is its output's)
    rate: float  # mean input firing rate over the calibration architectures (1.0 for MAC)
    once: bool  # a real-valued input that repeats at every step (the static first conv)


@dataclass(frozen=True)
class RateTable:
    """Input firing rate of each layer position, from forward passes at initialization."""

    layers: dict[tuple[str, int], LayerRate]
    calibrated_on: tuple[str, ...]  # the architectures of the calibration, short names
    batch: int = 0  # the calibration batch's size (the memory-aware model's buffers hold a batch); 0: unknown

    @cached_property
    def _deepest(self) -> dict[str, int]:
        """The deepest calibrated block of each in-block layer (looked up once per table, not per layer)."""
        deepest: dict[str, int] = {}
        for part, block in self.layers:
            deepest[part] = max(block, deepest.get(part, -1))
        return deepest

    @cached_property
    def _by_steps(self) -> dict[tuple[tuple[str, ...], str], dict[int, str]]:
        """(setting, layer) -> {T: the prefixed part measured at that T}, for the T fallback."""
        index: dict[tuple[tuple[str, ...], str], dict[int, str]] = {}
        for part in self._deepest:
            setting, steps, layer = _split(part)
            if steps is not None:
                index.setdefault((setting, layer), {})[steps] = part
        return index

    def _at(self, part: str, block: int) -> LayerRate:
        """The rate of a measured ``part`` at ``block`` (the deepest or nearest measured block)."""
        if block < 0:
            return self.layers[(part, -1)]
        key = (part, min(block, self._deepest[part]))
        if key not in self.layers:  # a block that no calibration architecture had at this position
            key = (part, min(self._blocks[part], key=lambda b: (abs(b - block), b)))
        return self.layers[key]

    @cached_property
    def _parts(self) -> dict[tuple, tuple[float, float]]:
        """The memory-aware closed form's energies of network parts already worked out (``lemaire_energy``)."""
        return {}

    @cached_property
    def _terms(self) -> dict[tuple, tuple]:
        """The memory-aware closed form's terms of each part shape already met (``lemaire_energy``)."""
        return {}

    @cached_property
    def _rates(self) -> dict[tuple, tuple[tuple[str, float], ...]]:
        """The (kind, rate) of each layer of each part position and its layer names already met (``lemaire_energy``)."""
        return {}

    @cached_property
    def _blocks(self) -> dict[str, list[int]]:
        """The calibrated blocks of each in-block layer."""
        blocks: dict[str, list[int]] = {}
        for part, block in self.layers:
            blocks.setdefault(part, []).append(block)
        return blocks

    def _across_steps(self, part: str, block: int) -> LayerRate | None:
        """A (T, setting) the calibration did not measure: the setting's rate at a measured T'
        plus rate(T) - rate(T') of a reference setting measured at both (the same neurons
        preferred, then the same attention, then the T' nearest T); None when no such pair exists."""
        setting, steps, layer = _split(part)
        if steps is None:
            return None
        own = self._by_steps.get((setting, layer), {})
        attention, neurons = _genes(setting)
        candidates = [(_genes(ref)[1] != neurons, _genes(ref)[0] != attention, abs(other - steps), other, ref)
                      for (ref, ref_layer), measured in self._by_steps.items() if ref_layer == layer
                      and steps in measured for other in measured if other in own]
        if not candidates:
            return None
        *_, other, ref = min(candidates)
        base = self._at(own[other], block)
        measured = self._by_steps[(ref, layer)]
        before, after = self._at(measured[other], block).rate, self._at(measured[steps], block).rate
        return dataclasses.replace(base, rate=_shifted(base.rate, before, after))

    @cached_property
    def _by_width(self) -> dict[str, dict[int, str]]:
        """A stem position with its width as ``*`` (``"T2/*/stem.lifs.0"``) -> {width: the measured part}."""
        index: dict[str, dict[int, str]] = {}
        for part in self._deepest:
            key, width = _unwidth(part)
            if width is not None:
                index.setdefault(key, {})[width] = part
        return index

    def _across_widths(self, part: str) -> LayerRate | None:
        """A stem at a width not measured at its neuron setting and T (outside the space: the
        calibration measures every width of it, ``stem_archs``): linear in the width between the
        nearest measured widths, the nearest one's rate beyond them; None when none was measured."""
        key, width = _unwidth(part)
        own = self._by_width.get(key) if width is not None else None
        if not own:
            return None
        below = max((w for w in own if w <= width), default=min(own))
        above = min((w for w in own if w >= width), default=max(own))
        low, high = self.layers[(own[below], -1)], self.layers[(own[above], -1)]
        if below == above:
            return low
        share = (width - below) / (above - below)
        return dataclasses.replace(low, rate=low.rate + share * (high.rate - low.rate))

    @cached_property
    def _found(self) -> dict[tuple[str, int], LayerRate]:
        """Lookups already resolved: a search asks for the same positions again and again, and the
        nearest block and the T fallback scan the table."""
        return {}

    def lookup(self, name: str, arch: Arch | None = None) -> LayerRate:
        return self.at(*position(name, arch))

    def at(self, part: str, block: int) -> LayerRate:
        """The rate at a position (``position``, ``locator``)."""
        found = self._found.get((part, block))
        if found is None:
            if part in self._deepest:
                found = self._at(part, block)
            else:
                found = self._across_widths(part) or self._across_steps(part, block)
            if found is None:
                raise ValueError(f"the firing-rate table has no calibration for {part}; calibrate on architectures "
                                 "of the space being searched")
            self._found[(part, block)] = found
        return found

    def check(self, positions: Collection[tuple[str, int]] = ()) -> None:
        """Raise ``ValueError`` naming the first thing wrong with a table read from a file: a kind
        other than MAC, AC or neuron, a rate that is not a fraction in [0, 1] (NaN included), or a
        position of ``positions`` (what its calibration measures, ``expected_positions``) that it lacks."""
        for (part, block), rate in sorted(self.layers.items()):
            if rate.kind not in ("MAC", "AC", "neuron"):
                raise ValueError(f"{part}@{block} has kind {rate.kind!r}, not MAC, AC or neuron")
            if not 0 <= rate.rate <= 1:  # False for NaN too
                raise ValueError(f"{part}@{block} has rate {rate.rate!r}, not a fraction in [0, 1]")
        missing = sorted(set(positions) - set(self.layers))
        if missing:
            part, block = missing[0]
            raise ValueError(f"it lacks {len(missing)} layer position(s) of its calibration ({part}@{block} first)")

    def to_dict(self) -> dict:
        return {"calibrated_on": list(self.calibrated_on), "batch": self.batch,
                "rates": {f"{part}@{block}": vars(rate) for (part, block), rate in sorted(self.layers.items())}}

    @classmethod
    def from_dict(cls, data: dict) -> "RateTable":
        """The inverse of ``to_dict``; a malformed mapping raises ``ValueError``/``KeyError``/``TypeError``."""
        layers = {}
        for key, rate in data["rates"].items():
            part, block = key.rsplit("@", 1)
            layers[(part, int(block))] = LayerRate(str(rate["kind"]), float(rate["rate"]), bool(rate["once"]))
        if not layers:
            raise ValueError("no rates")
        return cls(layers, tuple(str(name) for name in data["calibrated_on"]), int(data["batch"]))


_NETWORK_GENES = ("shortcut", "tau", "threshold")


def _network(arch: Arch) -> tuple:
    """An architecture's network setting: (shortcut, tau, threshold)."""
    return tuple(getattr(arch, gene) for gene in _NETWORK_GENES)


def calibration_archs(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """``n`` seeded samples of ``space``, the first of them at its greatest depth (so every
    block position the space allows has a measured rate), then variants of that first sample:
    with every block of one attention type, one for each (attention, network setting: shortcut,
    tau, threshold) that no sample has at the first sample's T and, for a TIME_STEPS gene, one for
    each (T, attention) that no sample has at its network setting; and, with its own attention
    types, one for each (T, network setting) no architecture so far has (none for a space without
    those genes). ``RateTable.lookup`` factors the combinations left unmeasured."""
    rng = random.Random(seed)
    deepest = max(space.depth)
    archs = []
    while len(archs) < n:
        arch = space.sample(rng)
        if archs or arch.depth == deepest:
            archs.append(arch)
    first = archs[0]
    networks = [(shortcut, tau, threshold)
                for shortcut in space.shortcut for tau in space.tau for threshold in space.threshold]
    measured = {(a, arch.time_steps, _network(arch)) for arch in archs for a in arch.attention}
    wanted = [(attention, first.time_steps, network) for attention in space.attention for network in networks]
    wanted += [(attention, steps, _network(first)) for steps in space.time_steps for attention in space.attention]
    for attention, steps, network in wanted:
        if (attention, steps, network) not in measured:
            measured.add((attention, steps, network))
            archs.append(dataclasses.replace(first, attention=(attention,) * first.depth, time_steps=steps,
                                             **dict(zip(_NETWORK_GENES, network))))
    settings = {(steps, network) for _, steps, network in measured}
    for steps in space.time_steps:
        for network in networks:
            if (steps, network) not in settings:
                archs.append(dataclasses.replace(first, time_steps=steps, **dict(zip(_NETWORK_GENES, network))))
    return archs


def stem_archs(space: SearchSpace) -> list[Arch]:
    """A single-block architecture for each (width, tau, threshold, T) of ``space``, at Spikformer's
    spike shortcut where the space has it, whose stems ``calibrate`` measures. The stem carries
    most of a small network's memory-aware energy, and its rates depend on the width (its first
    stages are D/8 and D/4 channels wide) in a way that depends on the neurons: the rate into its
    last conv rose from 0.20 at D16 to 0.24 at D96 on digits at T 4, yet fell from D64 to D96 at T 2
    (docs/energy.md). A table averaged over the calibration's widths missed a D16 network's energy
    by up to a fifth. The shortcut changes no stem rate (only whether its last LIF exists), so a
    stem position does not name it (``locator``)."""
    shortcut = DEFAULT_SHORTCUT if DEFAULT_SHORTCUT in space.shortcut else space.shortcut[0]
    return [Arch(1, width, (min(space.mlp_ratio),), (min(space.heads_for(width)),), (space.attention[0],), steps,
                 tau=tau, threshold=threshold, shortcut=shortcut)
            for width in space.embed_dim for tau in space.tau for threshold in space.threshold
            for steps in (space.time_steps or (None,))]


def _layer_names(arch: Arch, geometry: Geometry) -> tuple[str, ...]:
    kwargs = geometry.model_kwargs()
    return (*layer_macs(arch, **kwargs), *layer_spike_ops(arch, **kwargs), *lif_elements(arch, **kwargs))


def expected_positions(archs: list[Arch], geometry: Geometry, stems: list[Arch] = ()) -> set[tuple[str, int]]:
    """The positions that a calibration on ``archs`` and ``stems`` measures, from the closed form's
    layer names (no model built): every MAC layer, spike operation and LIF of every architecture,
    and every stem layer of ``stems``."""
    return ({position(name, arch) for arch in archs for name in _layer_names(arch, geometry)}
            | {position(name, arch) for arch in stems for name in _layer_names(arch, geometry) if is_stem(name)})


def calibrate(archs: list[Arch], geometry: Geometry, batch: torch.Tensor, *, seed: int,
              step_batches: dict[int, torch.Tensor] | None = None, stems: list[Arch] = ()) -> RateTable:
    """Measure every layer's input firing rate on ``batch`` for each of ``archs`` (weights seeded
    as the search seeds them) and average them by position. ``step_batches``: event frames
    binned at each T of a TIME_STEPS gene, which an architecture of that T runs on instead.
    ``stems`` (``stem_archs``): architectures whose stem layers are measured too, into the same
    averages, with ``STEM_PASSES / len(stems)`` weight draws of each (at least one)."""
    sums: dict[tuple[str, int], list] = {}

    def add(name: str, arch: Arch, kind: str, rate: float, once: bool) -> None:
        entry = sums.setdefault(position(name, arch), [kind, 0.0, 0, once])
        entry[1] += rate
        entry[2] += 1

    draws = max(1, STEM_PASSES // len(stems)) if stems else 0
    runs = [(arch, arch_seed(seed, arch), False) for arch in archs]
    runs += [(arch, (arch_seed(seed, arch) + draw) % 2 ** 32, True) for arch in stems for draw in range(draws)]
    for arch, weights, stem_only in runs:
        inputs = (step_batches or {}).get(arch.steps(geometry.time_steps), batch)
        check_fits(arch, geometry, len(inputs), use="forward")
        torch.manual_seed(weights)
        model = build_model(arch, **geometry.model_kwargs())
        with output_rates(model) as fired:
            layers = probe_layers(model, inputs)
        for layer in layers:
            if not stem_only or is_stem(layer.name):
                add(layer.name, arch, layer.kind, layer.firing_rate, layer.once)
        for name, rate in fired.items():
            if not stem_only or is_stem(name):
                add(name, arch, "neuron", rate, False)
    layers = {key: LayerRate(kind, total / count, once) for key, (kind, total, count, once) in sums.items()}
    return RateTable(layers, tuple(arch.short() for arch in archs), len(batch))


@contextlib.contextmanager
def output_rates(model: torch.nn.Module) -> Iterator[dict[str, float]]:
    """The output firing rate of every LIF of ``model`` during the passes inside the ``with``."""
    from spikingjelly.activation_based import neuron

    rates: dict[str, float] = {}
    handles = [module.register_forward_hook(lambda m, args, out, name=name: rates.__setitem__(
                   name, float(out.sum()) / out.numel()))
               for name, module in model.named_modules() if isinstance(module, neuron.BaseNode)]
    try:
        yield rates
    finally:
        for handle in handles:
            handle.remove()


def table_key(space: SearchSpace, geometry: Geometry, dataset: str, seed: int, batch_size: int,
              n_archs: int = CALIBRATION_ARCHS) -> dict:
    """Everything a calibrated table depends on. Not the energy model: the table holds firing
    rates, which every rate-based model prices with its own constants."""
    return {"version": TABLE_VERSION, "space": space.to_dict()["SEARCH_SPACE"], "geometry": geometry.model_kwargs(),
            "dataset": dataset, "seed": seed, "batch_size": batch_size, "calibration_archs": n_archs,
            "torch": torch.__version__.split("+")[0]}


def cached_table(key: dict, compute: Callable[[], RateTable],
                 positions: Collection[tuple[str, int]] = ()) -> tuple[RateTable, str]:
    """The table stored under ``key`` in the cache, else ``compute()`` stored there (atomically);
    with how it was obtained: ``"hit"``, ``"miss"`` or ``"recomputed"`` (a corrupt or mismatched
    file, or one that fails ``RateTable.check`` for ``positions``, replaced after a one-line
    warning on stderr)."""
    path = cache_dir(CACHE_SUB) / f"{digest(json.dumps(key, sort_keys=True))}.json"
    how = "miss"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            if data["key"] != json.loads(json.dumps(key)):
                raise ValueError("its key differs")
            table = RateTable.from_dict(data["table"])
            table.check(positions)
            return table, "hit"
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            print(f"warning: {path} is not a readable rate table ({err}); calibrating again", file=sys.stderr)
            how = "recomputed"
    table = compute()
    try:
        atomic_write_json(path, {"key": key, "table": table.to_dict()})
    except OSError as err:  # an unwritable cache costs the next search a calibration, not this one its run
        print(f"warning: cannot cache the rate table in {path.parent} ({err}); set $AUTOST_CACHE to a writable "
              "folder to reuse it", file=sys.stderr)
    return table, how


def closed_form_energy(arch: Arch, geometry: Geometry, table: RateTable, energy_model: str | EnergyModel) -> float:
    """Init-time energy in mJ per sample of ``arch`` under ``energy_model``, whose counter must have a
    closed form (the rate-based models and lemaire; else a one-line ``UsageError``)."""
    return closed_form_record(arch, geometry, table, energy_model).total_mj


def closed_form_record(arch: Arch, geometry: Geometry, table: RateTable,
                       energy_model: str | EnergyModel) -> EnergyRecord:
    """``closed_form_energy`` as a record: its compute and memory parts apart (memory 0 under a
    compute-only model), by the closed form of the model's counter (``energy.counters``)."""
    model = get_model(energy_model)
    return closed_form_of(model)(arch, geometry, table, model)


def rate_energy(arch: Arch, geometry: Geometry, table: RateTable, model: EnergyModel) -> EnergyRecord:
    """The rate counter's closed form (``energy.counters.rate``): ``E_MAC x MACs`` of the layers with
    real-valued input (a static first conv once, under a model that charges it once) and
    ``E_AC x MACs x rate`` of the spike-input layers and spike-only operations, rates from ``table``."""
    steps, locate = arch.steps(geometry.time_steps), locator(arch)
    total_pj = 0.0
    for name, macs in layer_macs(arch, **geometry.model_kwargs()).items():
        layer = table.at(*locate(name))
        if layer.kind == "MAC":
            total_pj += (macs / steps if layer.once and model.static_input_once else macs) * model.e_mac_pj
        else:
            total_pj += macs * layer.rate * model.e_ac_pj
    for name, ops in layer_spike_ops(arch, **geometry.model_kwargs()).items():  # masks and sums: spikes only
        total_pj += ops * table.at(*locate(name)).rate * model.e_ac_pj
    return EnergyRecord.of_totals(model, total_pj / PJ_PER_MJ)


WORD_BYTES = 4  # Lemaire et al.'s 32-bit accesses, as SpikingJelly's profiler counts them


@functools.lru_cache(maxsize=1)
def _lemaire_costs():
    from spikingjelly.activation_based.op_counter import LemaireEnergyCostConfig

    return LemaireEnergyCostConfig()


@functools.lru_cache(maxsize=None)
def _pj_per_byte(capacity_bytes: int) -> float:
    """Lemaire's SRAM cost per byte of a buffer of ``capacity_bytes`` (SpikingJelly's breakpoints)."""
    return _lemaire_costs().memory_cost_pj(capacity_bytes)


@functools.lru_cache(maxsize=1)
def _fifo_bytes() -> int:
    from spikingjelly.activation_based.op_counter import LemaireEnergyConfig

    return LemaireEnergyConfig().snn_fifo_capacity_elements * WORD_BYTES


class _Terms(NamedTuple):
    """The pJ per sample one layer or LIF costs under Lemaire's model, apart from its rate and
    proportional to it: operations and memory = fixed + per_rate x the firing rate (of a layer's
    input, of a LIF's output). Every term of the model is linear in the rate: the spikes read,
    the accumulates, the weights read and the potentials read and written each scale with it."""

    fixed_ops: float
    fixed_memory: float
    ops_per_rate: float
    memory_per_rate: float


def _layer_terms(layer: WeightLayer, steps: int, batch: int) -> dict[str, _Terms]:
    """A conv or linear's terms with spike input (``"AC"``) and with real-valued input (``"MAC"``),
    as ``lemaire_energy`` describes them; a table says which input the layer has."""
    cost, fifo = _lemaire_costs(), _pj_per_byte(_fifo_bytes())
    add, mul_add = cost.e_add_pj, cost.e_mul_pj + cost.e_add_pj
    x, out = steps * layer.in_elements, steps * layer.out_elements
    params = _pj_per_byte(layer.params * WORD_BYTES) * WORD_BYTES
    bias_ops, bias_memory = (out * add, out * params) if layer.bias else (0.0, 0.0)
    fanout = layer.out_channels * layer.taps  # per active input
    potentials = _pj_per_byte(batch * out * WORD_BYTES) * WORD_BYTES
    spikes = _Terms(bias_ops, bias_memory, x * (2 * fanout * add + (2 * mul_add if layer.conv else 0.0)),
                    x * (WORD_BYTES * fifo + fanout * params + 2 * fanout * potentials))
    dense = out * layer.fan_in
    kernel = fanout / batch if layer.conv else 0.0  # the kernel is addressed once per call, which carries the batch
    inputs = _pj_per_byte(batch * x * WORD_BYTES) * WORD_BYTES
    real = _Terms(bias_ops + dense * mul_add + (x + out + kernel) * add,
                  bias_memory + (dense if layer.conv else x) * inputs + dense * params, 0.0, 0.0)
    return {"AC": spikes, "MAC": real}


def _lif_terms(elements: int, steps: int, batch: int) -> dict[str, _Terms]:
    """A LIF's terms (kind ``"neuron"``): the leak's multiply-add and its potentials read and written
    at every value, an add and a FIFO write per spike."""
    cost, fifo = _lemaire_costs(), _pj_per_byte(_fifo_bytes())
    values = steps * elements
    return {"neuron": _Terms(values * (cost.e_mul_pj + cost.e_add_pj),
                             2 * values * _pj_per_byte(batch * elements * WORD_BYTES) * WORD_BYTES,
                             values * cost.e_add_pj, values * WORD_BYTES * fifo)}


def _part_terms(part: Part, steps: int, batch: int, prefix: str = "") -> tuple[tuple[str, ...], tuple[dict, ...]]:
    """The names (``prefix`` cut off: a block's are the same in every block) and terms of every
    layer and LIF of one part of a network, in the same order."""
    names = (*(layer.name for layer in part.layers), *part.lifs)
    terms = (*(_layer_terms(layer, steps, batch) for layer in part.layers),
             *(_lif_terms(elements, steps, batch) for elements in part.lifs.values()))
    return tuple(name[len(prefix):] for name in names), terms


def _priced(terms: tuple[dict[str, _Terms], ...], rates: tuple[tuple[str, float], ...]) -> tuple[float, float]:
    """(operations, memory) in pJ per sample of a part: its terms at its (kind, rate)s, in the same order."""
    ops = memory = 0.0
    for by_kind, (kind, rate) in zip(terms, rates):
        fixed_ops, fixed_memory, ops_per_rate, memory_per_rate = by_kind[kind]
        ops += fixed_ops + ops_per_rate * rate
        memory += fixed_memory + memory_per_rate * rate
    return ops, memory


def lemaire_energy(arch: Arch, geometry: Geometry, table: RateTable,
                   model: str | EnergyModel = "lemaire") -> EnergyRecord:
    """Lemaire et al. 2022 ("An analytical estimation of spiking neural networks energy
    efficiency", ICONIP, arXiv:2210.13107), counted as SpikingJelly 2.0's LemaireEnergyProfiler
    counts a forward pass of a batch of ``table.batch`` samples, in closed form: per sample and
    all T steps.

    A conv or linear with spike input (``a`` active inputs, fan-out ``f`` = out channels x taps):
    ``a f`` accumulates and accumulate-addressing, two multiply-adds per active input of a conv to
    find its first output (Lemaire's addressing), reads of the ``a`` spikes (from a FIFO), of
    ``a f`` weights (a buffer of the layer's parameters) and ``a f`` reads and writes of membrane
    potentials (a buffer of the layer's output). With real-valued input: ``out x fan_in`` MACs,
    the input, output (and for a conv the kernel) addressed once, the input read (for a conv once
    per weight use) and every weight use read. A bias: one add and one read per output. A LIF:
    one multiply-add per value (the leak), one add per spike, its potentials read and written
    every step, its spikes written to the FIFO. Each access costs SpikingJelly's per-byte price of
    its buffer's size, which for inputs and outputs holds the whole batch (as its profiler sees
    it). Products, masks, sums, BatchNorm and pooling are not in the model (SpikingJelly omits them).
    The rates (each layer's input spikes, each LIF's output spikes) come from ``table``; every term
    is linear in them (``_Terms``), so a part costs its shape's terms at its position's rates. The
    record's compute is the operations with their addressing, its memory the accesses."""
    if table.batch < 1:
        raise UsageError("the rate table records no batch size (an old cache?); calibrate again")
    # A search meets the same stem, blocks and head again and again in other candidates: each part's
    # energy is kept on the table, keyed by its shape and its rates' position; a part not met yet
    # is its shape's terms (kept by shape) at its position's rates (kept by position).
    steps, d, network, ts = arch.steps(geometry.time_steps), arch.embed_dim, _network(arch), arch.time_steps
    g = (geometry.in_channels, geometry.img_size, geometry.patch_size, geometry.num_classes)
    tokens = token_grid(geometry.img_size, geometry.patch_size) ** 2
    # (shape, position, the names' prefix, how to build the part)
    keyed = [(("stem", d, arch.shortcut, g, steps), ("stem", d, network, ts), "",
              lambda: stem_part(arch, in_channels=g[0], img_size=g[1], patch_size=g[2])[0])]
    keyed += [(("block", d, arch.hidden_dim(i), arch.num_heads[i], arch.attention[i], arch.shortcut, tokens, steps),
               ("block", i, arch.attention[i], network, ts), f"blocks.{i}.", lambda i=i: block_part(arch, i, tokens))
              for i in range(arch.depth)]
    keyed.append((("head", d, g[3], steps), ("head", network, ts), "", lambda: head_part(arch, g[3])))
    ops_pj = memory_pj = 0.0
    parts, locate = table._parts, None
    for shape, where, prefix, build in keyed:
        found = parts.get((shape, where))
        if found is None:
            names, terms = table._terms.get(shape) or table._terms.setdefault(
                shape, _part_terms(build(), steps, table.batch, prefix))
            rates = table._rates.get((where, names))
            if rates is None:
                locate = locate or locator(arch)
                rates = table._rates[(where, names)] = tuple((rate.kind, rate.rate) for rate in (
                    table.at(*locate(prefix + name)) for name in names))
            found = parts[(shape, where)] = _priced(terms, rates)
        ops_pj += found[0]
        memory_pj += found[1]
    return EnergyRecord.of_totals(get_model(model), ops_pj / PJ_PER_MJ, memory_pj / PJ_PER_MJ)
