"""The table in the report's summary: every trained architecture against the pipeline's baseline, per dataset.

Reads the trained runs of a pipeline folder (labels ``DATASET/NAME`` or ``DATASET/seedS/NAME``,
the baseline's NAME ``baseline``), pairs each architecture's runs with the baseline's by seed,
and gives per architecture the accuracy's mean and 95% t interval over seeds, the mean paired
difference to the baseline with its 95% t interval (``autost.stats``), the mean trained energy,
params, MACs and a verdict (``verdict``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from autost.arch import Arch
from autost.stats import mean, paired_differences, t_interval

BASELINE = "baseline"  # the baseline's folder name (autost.pipeline.BASELINE)
_SEED = re.compile(r"^seed(-?\d+)$")
VERDICT_RULE = (
    "Verdict (our rule): dominates when the 95% t interval of the paired accuracy difference to the baseline lies "
    "above 0 and the mean trained energy is at most the baseline's; trades accuracy for energy when the mean trained "
    "energy is lower but the architecture does not dominate (cheaper and worse counts as a trade); loses otherwise. "
    "A single seed gives no interval, so it cannot dominate. Differences are paired by seed: the same seed sets the "
    "initialization and the data order of both networks, on the dataset's one split.")


def parse_label(label: str) -> tuple[str, int | None, str] | None:
    """``(dataset, seed, name)`` of a pipeline training label (``None`` outside that layout)."""
    parts = label.split("/")
    if len(parts) == 2:
        return parts[0], None, parts[1]
    if len(parts) == 3 and _SEED.match(parts[1]):
        return parts[0], int(_SEED.match(parts[1]).group(1)), parts[2]
    return None


def architecture_label(label: str) -> str:
    """The label without its seed folder: ``digits/seed1/01`` -> ``digits/01`` (the energy step's key)."""
    parsed = parse_label(label)
    return label if parsed is None else f"{parsed[0]}/{parsed[2]}"


def verdict(diff_interval: tuple[float, float] | None, energy_mj: float, baseline_energy_mj: float) -> str:
    """The one-line verdict of ``VERDICT_RULE`` from the paired difference's interval and mean energies."""
    if diff_interval is not None and diff_interval[0] > 0 and energy_mj <= baseline_energy_mj:
        return "dominates"
    if energy_mj < baseline_energy_mj:
        return "trades accuracy for energy"
    return "loses"


@dataclass
class Arm:
    """One architecture's runs on one dataset, by seed."""

    dataset: str
    name: str
    runs: dict[int | None, dict]  # seed -> metrics.json

    @property
    def seeds(self) -> list[int | None]:
        return sorted(self.runs, key=lambda s: -1 if s is None else s)

    def values(self, key: str, seeds: list[int | None] | None = None) -> list[float]:
        return [self.runs[s][key] for s in (self.seeds if seeds is None else seeds)]


def arms(trained: list[tuple[str, dict]]) -> dict[str, list[Arm]]:
    """The pipeline's trained runs grouped by dataset and architecture, the baseline first."""
    found: dict[tuple[str, str], Arm] = {}
    for label, metrics in trained:
        parsed = parse_label(label)
        if parsed is None:
            continue
        dataset, seed, name = parsed
        if seed is None:  # a plain train.seed: the run's own record
            seed = (metrics.get("settings") or {}).get("seed")
        found.setdefault((dataset, name), Arm(dataset, name, {})).runs[seed] = metrics
    grouped: dict[str, list[Arm]] = {}
    for (dataset, name), arm in sorted(found.items(), key=lambda item: (item[0][0], item[0][1] != BASELINE,
                                                                        item[0][1])):
        grouped.setdefault(dataset, []).append(arm)
    return grouped


def has_baseline(trained: list[tuple[str, dict]]) -> bool:
    return any(arm.name == BASELINE for group in arms(trained).values() for arm in group)


HEAD = ["dataset", "architecture", "seeds", "test accuracy (%)", "95% interval", "paired difference (points)",
        "95% interval of the difference", "trained energy (mJ)", "params", "MACs", "verdict"]


def _interval(values: list[float]) -> str:
    interval = t_interval(values)
    if interval is None:
        return "none (1 seed)"
    return f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def _row(arm: Arm, baseline: Arm | None) -> list[str]:
    first = arm.runs[arm.seeds[0]]
    acc = [100 * a for a in arm.values("test_acc")]
    energy = mean(arm.values("energy_mj"))
    cells = [arm.dataset, f"{arm.name}: {Arch.from_dict(first['arch']).short()}", ", ".join(map(str, arm.seeds)),
             f"{mean(acc):.2f}", _interval(acc)]
    if arm is baseline:
        diff, diff_interval, judged = ["–", "–"], None, "baseline"
    elif baseline is None:
        diff, diff_interval, judged = ["–", "–"], None, f"no baseline trained on {arm.dataset}"
    else:
        paired = [s for s in arm.seeds if s in baseline.runs]
        d = [100 * x for x in paired_differences(arm.values("test_acc", paired), baseline.values("test_acc", paired))]
        diff_interval = t_interval(d)
        diff = [f"{mean(d):+.2f}" if d else "–", _interval(d) if d else "no common seed"]
        judged = verdict(diff_interval, energy, mean(baseline.values("energy_mj"))) if d else "no common seed"
    return [*cells, *diff, f"{energy:.4g}", f"{first['params']:,}", f"{first['macs']:,}", judged]


def comparison_rows(trained: list[tuple[str, dict]]) -> list[list[str]]:
    """The table's cells: per dataset, the baseline first, then the others by name."""
    rows = []
    for group in arms(trained).values():
        baseline = next((arm for arm in group if arm.name == BASELINE), None)
        rows += [_row(arm, baseline) for arm in group]
    return rows
