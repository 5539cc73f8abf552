"""The generational search loop (after AutoFormer's): each generation evaluates its population,
keeps the parents the algorithm picks (AutoST's evolution: the top ``select`` legal candidates),
and builds the next population from ``mutation`` mutants and ``crossover`` children of them,
filled up with random architectures. Random search is the same loop with no mutants and no
children; NSGA-II the same loop with its own survival and parent selection. The algorithms are
registered in ``autost.search.algorithms``, one module each.

Only legal candidates count: inside the space, inside the constraints, and not seen before.
The whole state is plain data (``SearchState``) so that a run can stop after any
generation and resume to the same result.
"""
from __future__ import annotations

import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from autost.arch import Arch
from autost.errors import BadInput
from autost.options import check_fields, default
from autost.search.algorithms import ALGORITHMS, Algorithm
from autost.search.evaluate import Constraints, Evaluator
from autost.search.pool import Scorer, serial_scorer
from autost.space import SearchSpace
from autost.tables.search import EVOLUTION


@dataclass(frozen=True)
class EvolutionSettings:
    """The loop's settings; defaults and checks from their options (``autost.tables.search``)."""

    population: int = default(EVOLUTION, "population")
    select: int = default(EVOLUTION, "select")
    mutation: int = default(EVOLUTION, "mutation")
    crossover: int = default(EVOLUTION, "crossover")
    generations: int = default(EVOLUTION, "generations")
    m_prob: float = default(EVOLUTION, "m_prob")
    s_prob: float = default(EVOLUTION, "s_prob")

    def __post_init__(self) -> None:
        check_fields(self, EVOLUTION)
        if self.mutation + self.crossover > self.population:
            raise BadInput(f"--mutation + --crossover ({self.mutation + self.crossover}) exceeds "
                           f"--population ({self.population})")


def arch_key(arch: Arch) -> str:
    return arch.short()


@dataclass
class SearchState:
    """Everything needed to continue a search: JSON-serializable."""

    generation: int = 0  # the next generation to evaluate
    population: list[dict] = field(default_factory=list)  # RETRAIN mappings to evaluate next
    seen: dict[str, dict | None] = field(default_factory=dict)  # key -> record (None: never evaluated)
    history: list[dict] = field(default_factory=list)
    rng: list | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SearchState":
        return cls(**data)

    def legal_records(self) -> list[dict]:
        return [r for r in self.seen.values() if r is not None and r["legal"]]


def rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


def ranked(records: list[dict]) -> list[dict]:
    """Best first; ties broken by the architecture so the order is reproducible."""
    return sorted(records, key=lambda r: (-r["score"], arch_key(Arch.from_dict(r["arch"]))))


class Evolution:
    """One generational search over ``space``: ``algorithm`` names a registered generational
    algorithm ("evolution", "random", "nsga2": multi-objective over ``objectives``)."""

    def __init__(self, space: SearchSpace, evaluator: Evaluator, constraints: Constraints,
                 settings: EvolutionSettings, seed: int, algorithm: str = "evolution",
                 objectives: tuple[str, ...] = ("score", "energy")):
        self.space = space
        self.evaluator = evaluator
        self.constraints = constraints
        self.settings = settings
        self.algorithm: Algorithm = ALGORITHMS.get(algorithm)
        if self.algorithm.parents is None:
            raise ValueError(f"--algorithm {algorithm} is not generational")
        self.objectives = objectives
        self.rng = random.Random(seed)

    def parents(self, state: SearchState) -> list[dict]:
        """The records the next generation is bred from (AutoST: the top ``select`` by score;
        NSGA-II: its ``population`` survivors by front rank and crowding)."""
        return self.algorithm.parents(ranked(state.legal_records()), self.settings, self.objectives)

    def _pick(self, pool: list[dict]) -> Arch:
        return Arch.from_dict(self.algorithm.pick(pool, self.rng)["arch"])

    def _fresh(self, arch: Arch, state: SearchState, queued: set[str]) -> bool:
        """Legal before evaluation: unseen, unqueued, params inside the limits."""
        key = arch_key(arch)
        if key in state.seen or key in queued:
            return False
        if not self.constraints.params_ok(self.evaluator.cost(arch)[0]):
            state.seen[key] = None  # never legal; remember so it is not retried
            return False
        return True

    def _collect(self, make: Callable[[], Arch | None], want: int, state: SearchState,
                 queued: set[str], tries: int) -> list[Arch]:
        out: list[Arch] = []
        for _ in range(tries):
            if len(out) >= want:
                break
            arch = make()
            if arch is not None and self._fresh(arch, state, queued):
                out.append(arch)
                queued.add(arch_key(arch))
        return out

    def _next_population(self, state: SearchState, pool: list[dict]) -> list[Arch]:
        s = self.settings
        queued: set[str] = set()
        rng = self.rng
        population: list[Arch] = []
        if pool and self.algorithm.breeds:
            population += self._collect(lambda: self.space.mutate(self._pick(pool), rng, s.m_prob, s.s_prob),
                                        s.mutation, state, queued, tries=s.mutation * 10)

            def child() -> Arch | None:
                a, b = self._pick(pool), self._pick(pool)
                return self.space.crossover(a, b, rng) if a.depth == b.depth else None

            population += self._collect(child, s.crossover, state, queued, tries=s.crossover * 10)
        population += self._collect(lambda: self.space.sample(rng), s.population - len(population), state, queued,
                                    tries=s.population * 100)
        return population

    def run(self, state: SearchState, on_generation: Callable[[SearchState], None],
            on_candidate: Callable[[], None] = lambda: None,
            score: Scorer | None = None) -> SearchState:
        """Run the remaining generations of ``state``, calling ``on_generation`` after each
        (with the state ready to resume from) and ``on_candidate`` after each evaluation.
        ``score`` turns a generation's architectures into their records, in order
        (``autost.search.pool``: in parallel); by default the evaluator scores them one by one."""
        s = self.settings
        score = score or serial_scorer(self.evaluator)
        if state.rng is None:
            state.population = [a.to_dict()["RETRAIN"] for a in self._next_population(state, [])]
        else:
            set_rng_state(self.rng, state.rng)
        while state.generation < s.generations:
            start = time.perf_counter()
            archs = [Arch.from_dict(mapping) for mapping in state.population]
            for arch, record in zip(archs, score(archs, on_candidate)):
                record["generation"] = state.generation
                record["legal"] = self.constraints.energy_ok(record["energy_mj"])
                state.seen[arch_key(arch)] = record
            pool = self.parents(state)
            scores = [r["score"] for r in pool]
            next_population = self._next_population(state, pool) if state.generation + 1 < s.generations else []
            state.population = [a.to_dict()["RETRAIN"] for a in next_population]
            state.elapsed_s += time.perf_counter() - start
            state.history.append({
                "generation": state.generation,
                "best": max(scores) if scores else None,
                "mean": statistics.fmean(scores) if scores else None,
                "worst": min(scores) if scores else None,
                "evaluated": len(state.legal_records()),
                "elapsed_s": round(state.elapsed_s, 3),
            })
            state.generation += 1
            state.rng = rng_state(self.rng)
            on_generation(state)
        return state
