"""The report's "Successive halving" section, from the train stage's ``rungs.json``.

The hook is ``halving_section``: it takes plain data, ``(label, record)`` pairs where ``label``
names the training folder (a dataset, say) and ``record`` is a parsed ``rungs.json``::

    {"scheduler": "in-process" | "asha", "eta": 2,            # eta optional
     "rungs": [{"rung": 0, "epochs": E,
                "candidates": [{"name": str, "arch": str, "val_acc": float, "kept": bool}, ...]},
               ...]}

and gives one line per record (the scheduler and who survived) and one table per rung, best
validation accuracy first. ``autost.report.run_files.read_rungs`` checks a file on disk first.
"""
from __future__ import annotations

from autost.report.page import Block, Section, Table

TITLE = "Successive halving"
HEAD = ["name", "architecture", "validation accuracy (%)", "kept"]


def rung_table(label: str, rung: dict) -> Table:
    """One rung: its candidates, best validation accuracy first (ties keep the file's order)."""
    candidates = sorted(rung["candidates"], key=lambda c: -c["val_acc"])
    kept = sum(c["kept"] for c in candidates)
    rows = [[c["name"], c["arch"], f"{100 * c['val_acc']:.2f}", "yes" if c["kept"] else "no"] for c in candidates]
    epochs = f"{rung['epochs']} epoch" + ("" if rung["epochs"] == 1 else "s")
    return Table(f"{label}: rung {rung['rung']} ({epochs}), {kept} of {len(candidates)} kept",
                 HEAD, rows)


def _outline(label: str, record: dict) -> str:
    rungs = record["rungs"]
    eta = f", eta {record['eta']}" if "eta" in record else ""
    if not rungs:
        return f"{label}: successive halving ({record['scheduler']}{eta}) recorded no rung yet."
    last = rungs[-1]
    survivors = [c["name"] for c in last["candidates"] if c["kept"]]
    return (f"{label}: successive halving ({record['scheduler']} scheduler{eta}) over "
            f"{len(rungs[0]['candidates'])} candidates in {len(rungs)} rungs; after rung {last['rung']} "
            f"{', '.join(survivors) if survivors else 'none'} kept.")


def halving_section(records: list[tuple[str, dict]]) -> Section | None:
    """The section for every ``(label, rungs.json record)``, or ``None`` when there is none."""
    if not records:
        return None
    blocks: list[Block] = []
    for label, record in records:
        blocks.append(_outline(label, record))
        blocks += [rung_table(label, rung) for rung in record["rungs"]]
    return Section(TITLE, blocks)
