"""The energy record: what every counter returns, measured or in closed form (per sample, in mJ).

A counter that runs the network (``energy.measure.measure_network``) fills every total and one
row per layer it charges; a closed form (``energy.closed_form.closed_form_record``) fills the
totals it works out without a network (compute and memory) and leaves the rest ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from energy.models import EnergyModel

PJ_PER_MJ = 1e9


@dataclass(frozen=True)
class LayerEnergy:
    """One charged layer: a weight layer, a spike-only attention operation or (``lemaire``) a LIF."""

    name: str
    kind: str  # "MAC" (real-valued input), "AC" (spike input) or "neuron" (LIF updates)
    macs: int  # dense MACs per sample, all time steps (0 for neurons and spike-only operations)
    ops: float  # operations charged per sample: MACs, synaptic ACs, or the model's own count
    firing_rate: float  # fraction of non-zero inputs (1.0 for real-valued input); a neuron: of its outputs
    compute_mj: float
    memory_mj: float = 0.0
    once: bool = False  # a real-valued input identical at every step, computed (and charged) once
    spike_ops: int = 0  # a spike-only attention operation (mask or sum): its dense operations per sample

    @property
    def energy_mj(self) -> float:
        return self.compute_mj + self.memory_mj

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "macs": self.macs, "ops": self.ops,
                "firing_rate": self.firing_rate, "compute_mj": self.compute_mj, "memory_mj": self.memory_mj,
                "energy_mj": self.energy_mj}


@dataclass
class EnergyRecord:
    """Energy per sample of one network (or architecture) under ``model``. Not frozen: a search
    makes one per candidate in closed form, where a frozen dataclass's slower construction shows."""

    model: EnergyModel
    total_mj: float
    compute_mj: float
    memory_mj: float = 0.0
    mac_mj: float | None = None  # compute of the real-valued-input layers
    ac_mj: float | None = None  # compute of the spike-input layers
    ann_mj: float | None = None  # the same network as a non-spiking ANN, under the same model
    # the same ANN with 8-bit weights and activations and a 32-bit accumulator, counted the same way
    ann_int8_mj: float | None = None
    macs: int | None = None  # dense MACs per sample, all time steps
    layers: tuple[LayerEnergy, ...] = ()
    notes: tuple[str, ...] = ()  # what the model leaves out

    @classmethod
    def of_layers(cls, model: EnergyModel, layers: Iterable[LayerEnergy], ann_mj: float, ann_int8_mj: float,
                  notes: Iterable[str] = ()) -> "EnergyRecord":
        """A measured record: every total summed from its rows."""
        layers = tuple(layers)
        return cls(model, total_mj=sum(layer.energy_mj for layer in layers),
                   compute_mj=sum(layer.compute_mj for layer in layers),
                   memory_mj=sum(layer.memory_mj for layer in layers),
                   mac_mj=sum(layer.compute_mj for layer in layers if layer.kind == "MAC"),
                   ac_mj=sum(layer.compute_mj for layer in layers if layer.kind == "AC"),
                   ann_mj=ann_mj, ann_int8_mj=ann_int8_mj, macs=sum(layer.macs for layer in layers),
                   layers=layers, notes=tuple(notes))

    @classmethod
    def weighted_mean(cls, records: Sequence["EnergyRecord"], weights: Sequence[float]) -> "EnergyRecord":
        """The mean of measured records of one network (the same rows in the same order), e.g. of a
        test set's batches weighted by their sizes: each row's rate, operations and energies
        averaged, the totals summed from the averaged rows as ``of_layers`` sums them."""
        total = sum(weights)

        def mean(value) -> float:
            return sum(value(r) * w for r, w in zip(records, weights)) / total

        first = records[0]
        layers = [replace(layer, ops=mean(lambda r: r.layers[i].ops), firing_rate=mean(lambda r: r.layers[i].firing_rate),
                          compute_mj=mean(lambda r: r.layers[i].compute_mj),
                          memory_mj=mean(lambda r: r.layers[i].memory_mj)) for i, layer in enumerate(first.layers)]
        return cls.of_layers(first.model, layers, mean(lambda r: r.ann_mj), mean(lambda r: r.ann_int8_mj), first.notes)

    @classmethod
    def of_totals(cls, model: EnergyModel, compute_mj: float, memory_mj: float = 0.0) -> "EnergyRecord":
        """A closed form's record: compute and memory only, no rows."""
        return cls(model, total_mj=compute_mj + memory_mj, compute_mj=compute_mj, memory_mj=memory_mj)

    def to_dict(self) -> dict:
        """The fields results and metrics.json carry (``energy_model`` ... ``layers``)."""
        return {
            "energy_model": self.model.name, "energy_source": self.model.source,
            "energy_charges": self.model.charges, "energy_mj": self.total_mj, "compute_mj": self.compute_mj,
            "memory_mj": self.memory_mj, "mac_mj": self.mac_mj, "ac_mj": self.ac_mj, "ann_mj": self.ann_mj,
            "ann_int8_mj": self.ann_int8_mj, "energy_notes": list(self.notes),
            "layers": [layer.to_dict() for layer in self.layers],
        }
