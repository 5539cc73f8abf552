"""`run.py search`: training-free architecture search under constraints."""
from __future__ import annotations

import argparse
from pathlib import Path

from autost.commands.energy import add_energy_model_argument
from autost.commands.profile import add_geometry_arguments
from autost.geometry import resolve_geometry
from autost.search.evaluate import SCORES, Constraints
from autost.search.evolution import EvolutionSettings
from autost.search.runner import ALGORITHMS, ENERGY_METHODS, SearchConfig, run_search


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    geometry = resolve_geometry(dataset=args.dataset, input_shape=args.input_shape, num_classes=args.num_classes,
                                patch_size=args.patch_size, time_steps=args.time_steps)
    limits = args.param_limits or (None, None)
    return SearchConfig(
        space=str(args.space),
        geometry=geometry,
        dataset=args.dataset,
        data_root=str(args.data_root) if args.data_root else None,
        algorithm=args.algorithm,
        score=args.score,
        lam=args.lam,
        settings=EvolutionSettings(population=args.population, select=args.select, mutation=args.mutation,
                                   crossover=args.crossover, generations=args.generations, m_prob=args.m_prob,
                                   s_prob=args.s_prob),
        constraints=Constraints(limits[0], limits[1], args.energy_limit),
        top_k=args.top_k,
        seed=args.seed,
        batch_size=args.batch_size,
        objectives=tuple(args.objectives.split(",")),
        energy_model=args.energy_model,
        energy=args.energy,
    )


def run(args: argparse.Namespace) -> int:
    result = run_search(config_from_args(args), args.out, resume=args.resume, workers=args.workers,
                        ray_address=args.ray_address)
    best = result["best"]
    energy = "" if best["energy_mj"] is None else f", {best['energy_mj']:.4g} mJ"
    print(f"best: {best['arch']} score {best['score']:.6g} ({best['params'] / 1e6:.3f} M params, "
          f"{best['macs'] / 1e9:.4g} GMACs{energy})")
    written = len(list((args.out / "top").glob("*.yaml")))
    print(f"{len(result['candidates'])} candidates in {args.out / 'search.json'}; the best {written} of distinct cost "
          f"in {args.out / 'top'}" + (f" (fewer than --top-k {args.top_k}: no more distinct costs)"
                                      if written < args.top_k else ""))
    return 0


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The search options, shared with the pipeline."""
    p.add_argument("--algorithm", choices=ALGORITHMS, default="evolution",
                   help="evolution (AutoST, default), random (same budget), exact (certified MACs optimum) or "
                        "nsga2 (multi-objective: the Pareto front of --objectives)")
    p.add_argument("--objectives", default="score,energy",
                   help="NSGA-II objectives, comma-separated from score (maximized), energy and params "
                        "(minimized); also the objectives of the front reported in search.json "
                        "(default score,energy)")
    p.add_argument("--score", default="flops", metavar="{" + ",".join(SCORES) + "}",
                   help="flops: MACs (AutoST's default); autost: MACs + lambda/NASWOT; naswot (Mellor et al. "
                        "2021); sahd (SNASNet's sparsity-aware Hamming distance, Kim et al. 2022)")
    p.add_argument("--lambda", dest="lam", type=float, default=0.0, help="lambda of --score autost (default 0)")
    p.add_argument("--population", type=int, default=50, help="population per generation (default 50)")
    p.add_argument("--generations", type=int, default=20, help="generations (default 20)")
    p.add_argument("--select", type=int, default=10, help="top-k parents kept each generation (default 10)")
    p.add_argument("--mutation", type=int, default=25, help="mutants per generation (default 25)")
    p.add_argument("--crossover", type=int, default=25, help="crossover children per generation (default 25)")
    p.add_argument("--m-prob", type=float, default=0.2, help="per-block mutation probability (default 0.2)")
    p.add_argument("--s-prob", type=float, default=0.4, help="depth/width mutation probability (default 0.4)")
    p.add_argument("--param-limits", type=float, nargs=2, metavar=("MIN", "MAX"),
                   help="keep architectures with MIN..MAX million parameters")
    p.add_argument("--energy-limit", type=float, metavar="MJ",
                   help="keep architectures whose energy per sample (under --energy-model; init-time, or the "
                        "predicted trained energy with --energy predicted) is at most MJ (needs --dataset)")
    add_energy_model_argument(p)
    p.add_argument("--energy", choices=ENERGY_METHODS, default="auto",
                   help="how each candidate's energy (--energy-limit, the NSGA-II objective, search.json) is "
                        "obtained with --dataset. auto (default): closed-form under a rate-based --energy-model, "
                        "else measure; closed-form: init-time firing rates per layer position calibrated once on a "
                        "few architectures of the space (cached in $AUTOST_CACHE or ~/.cache/autost), then no "
                        "forward pass; measure: a forward pass per candidate; predicted: the closed form times a "
                        "trained/init ratio fitted on trained studies (energy/trained_energy_predictor.json), an "
                        "estimate of the TRAINED network's energy")
    p.add_argument("--top-k", type=int, default=5, help="best architectures of distinct cost (params, MACs) written to OUT/top (default 5)")
    p.add_argument("--batch-size", type=int, default=32, help="real batch size for energy and scores (default 32)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --dataset: score each generation on N local processes (one torch thread each); "
                        "same result as a serial search")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="with --dataset: score each generation as Ray tasks on the cluster at ADDR ('local' "
                        "starts one); same result as a serial search")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search a space without training, under params/energy limits",
                       description="Training-free search (AutoST). Scores that need no data (flops) run from "
                                   "--input-shape alone; with --dataset a real batch feeds the init-time energy of "
                                   "every candidate and the activation-code scores. Writes OUT/search.json, "
                                   "OUT/history.csv and OUT/top/NN.yaml; a killed run continues with --resume.")
    p.add_argument("--space", type=Path, required=True, help="search space YAML (AutoST SEARCH_SPACE format)")
    add_geometry_arguments(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    add_search_arguments(p)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the search checkpointed in OUT")
    p.set_defaults(func=run)
