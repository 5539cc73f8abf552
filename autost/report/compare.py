"""Two searches' candidates under both of their energy models, side by side.

Run A (say, an energy-limited search under one model) hands on its top-k; run B (say, an
NSGA-II front under another model) its Pareto front. Every one of these candidates is measured
again under A's model and under B's model, with A's batch and A's weight seeds (the search's
own draw: ``autost.search.runner`` builds the same batch from the same settings), so the two
columns differ only by the model.
"""
from __future__ import annotations

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.memory import check_fits
from autost.model import build_model
from autost.search.algorithms import ALGORITHMS
from autost.seeding import arch_seed
from energy.measure import measure_network
from energy.models import DEFAULT_MODEL


def search_model(search: dict) -> str:
    """The energy model a search.json was made with (runs from before the registry: the default)."""
    return (search.get("energy_model") or {}).get("name", DEFAULT_MODEL)


def handed_on(search: dict) -> list[dict]:
    """What a search hands on: its Pareto front when it has one and searched for it (NSGA-II:
    an algorithm whose top-k hand on the front first), else its top-k candidates."""
    algorithm = search["algorithm"]
    if algorithm in ALGORITHMS and ALGORITHMS[algorithm].front_first and search.get("pareto"):
        return search["pareto"]
    return search["candidates"][: search["settings"].get("top_k", 5)]


def compare_searches(search_a: dict, search_b: dict, *, data_root: str | None = None) -> dict:
    """Rows (one per distinct candidate handed on by A or B) with its energy under both models."""
    settings = search_a["settings"]
    if search_a["dataset"] != search_b["dataset"] or settings["geometry"] != search_b["settings"]["geometry"]:
        raise UsageError("--compare needs two searches on the same dataset and geometry "
                         f"({search_a['dataset']} vs {search_b['dataset']})")
    if not search_a["dataset"]:
        raise UsageError("--compare measures energy on real data: the searches need a --dataset")
    model_a, model_b = search_model(search_a), search_model(search_b)
    geometry = Geometry(**settings["geometry"])
    batch = real_batch(search_a["dataset"], batch_size=settings["batch_size"], time_steps=geometry.time_steps,
                       seed=settings["seed"], data_root=data_root, img_size=geometry.img_size)
    origin: dict[str, tuple[dict, str]] = {}
    for run, search in (("A", search_a), ("B", search_b)):
        for c in handed_on(search):
            key = Arch.from_dict(c["arch"]).short()
            seen = origin.get(key)
            origin[key] = (c, run if seen is None or seen[1] == run else "A+B")
    limit = settings["constraints"].get("energy_max_mj")
    rows = []
    for key, (c, run) in origin.items():
        arch = Arch.from_dict(c["arch"])
        check_fits(arch, geometry, len(batch), use="forward")
        energies = []
        for model in (model_a, model_b):
            torch.manual_seed(arch_seed(settings["seed"], arch))
            energies.append(measure_network(build_model(arch, **geometry.model_kwargs()), batch, model).total_mj)
        rows.append({"arch": key, "run": run, "params": c["params"], "macs": c["macs"], "score": c["score"],
                     "energy_a": energies[0], "energy_b": energies[1],
                     "within_a_limit": None if limit is None else energies[0] <= limit})
    rows.sort(key=lambda r: r["energy_a"])
    return {"model_a": model_a, "model_b": model_b, "energy_limit_a": limit, "rows": rows}
