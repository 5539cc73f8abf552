"""The energy models: each is data (what counts it, its per-operation costs, what it charges,
its source); ``energy.measure.measure_network`` applies one to a network and a batch, through
its counter (``energy.counters``).

Per-operation costs are Horowitz (2014), "Computing's energy problem", ISSCC, Fig. 1.1.9,
45 nm at 0.9 V: FP32 add 0.9 pJ, FP32 mult 3.7 pJ; FP16 add 0.4 pJ, FP16 mult 1.1 pJ;
INT8 add 0.03 pJ, INT8 mult 0.2 pJ, INT32 add 0.1 pJ. A MAC is one multiply and one add (FP32
4.6 pJ, FP16 1.5 pJ), an AC one add (0.9, 0.4 pJ): SpikingJelly's ``SimpleEnergyCostConfig.fp32/fp16``.
INT8 means 8-bit weights and activations with a 32-bit accumulator (a membrane potential or a
sum of products does not fit in 8 bits): an 8-bit multiply and a 32-bit add, 0.3 pJ a MAC, and
0.1 pJ an AC. SpikingJelly's ``int8`` preset (0.23, 0.03 pJ) adds in 8 bits; ours does not.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from autost.registry import Registry

HOROWITZ_2014 = "Horowitz 2014, ISSCC, Fig. 1.1.9 (45 nm)"
E_MAC_PJ, E_AC_PJ = 4.6, 0.9  # FP32, the default model's (Spikformer's and AutoST's constants)


@dataclass(frozen=True)
class EnergyModel:
    name: str
    counter: str  # the registered counter that counts its operations (energy.counters: rate, synaptic, lemaire)
    e_mac_pj: float | None  # per MAC (real-valued input); None where the counter brings its own costs
    e_ac_pj: float | None  # per accumulate (one spike reaching one synapse)
    charges: str  # "compute" or "compute+memory"
    # A static image reaches the first conv unchanged at every time step: charge that real-valued
    # layer once (E_MAC x FLOPs of one step, as Spikformer's and Spike-driven Transformer's papers do)
    # or once per step (what a step-by-step execution, and SpikingJelly's counters, perform). Only
    # the rate counter can do either; the SpikingJelly-based ones charge what they execute.
    static_input_once: bool
    source: str
    summary: str  # one line for --help and docs/energy.md

    @property
    def has_memory(self) -> bool:
        return self.charges == "compute+memory"

    def describe(self) -> dict:
        """The model as written into results: name, what it charges, costs, source."""
        return asdict(self)


def _precision(name: str, counter: str, e_mac: float, e_ac: float, label: str, what: str,
               static_input_once: bool) -> EnergyModel:
    return EnergyModel(name, counter, e_mac, e_ac, "compute", static_input_once, HOROWITZ_2014,
                       f"{what}, {label}: E_MAC {e_mac:g} pJ, E_AC {e_ac:g} pJ")


INT8_MULT_PJ, INT32_ADD_PJ = 0.2, 0.1
INT8_MAC_PJ = INT8_MULT_PJ + INT32_ADD_PJ
INT8_LABEL = "INT8 with 32-bit accumulation"
_SPIKFORMER = "rate x MACs (Spikformer, AutoST)"
_SYNAPTIC = "each spike's real fan-out, q AND k coincidences (SpikingJelly MAC/AC counters)"

# Every energy model, by name. A new model is one ``MODELS.register(EnergyModel(...))``: under a
# registered counter (``energy.counters``) nothing else changes; ``energy.measure`` applies it.
MODELS: Registry[EnergyModel] = Registry("energy model")
for _model in (
    EnergyModel("spikformer-45nm", "rate", E_MAC_PJ, E_AC_PJ, "compute", True,
                f"{HOROWITZ_2014}; convention of Spikformer (Zhou et al. 2023) and AutoST (Wang et al. 2023)",
                "E_MAC 4.6 pJ x MACs of real-valued-input layers + E_AC 0.9 pJ x MACs x input firing rate of "
                "spike-input layers (FP32, the default)"),
    _precision("spikformer-45nm-fp16", "rate", 1.5, 0.4, "FP16", _SPIKFORMER, True),
    _precision("spikformer-45nm-int8", "rate", INT8_MAC_PJ, INT32_ADD_PJ, INT8_LABEL, _SPIKFORMER, True),
    EnergyModel("synaptic-45nm", "synaptic", E_MAC_PJ, E_AC_PJ, "compute", False,
                f"{HOROWITZ_2014}; counts by SpikingJelly 2.0 op_counter MACCounter/ACCounter",
                "E_MAC 4.6 pJ per MAC + E_AC 0.9 pJ per synaptic operation actually performed: each spike's "
                "fan-out inside the padded conv window, q AND k coincidences in q k^T (FP32)"),
    _precision("synaptic-45nm-fp16", "synaptic", 1.5, 0.4, "FP16", _SYNAPTIC, False),
    _precision("synaptic-45nm-int8", "synaptic", INT8_MAC_PJ, INT32_ADD_PJ, INT8_LABEL, _SYNAPTIC, False),
    EnergyModel("lemaire", "lemaire", None, None, "compute+memory", False,
                "Lemaire et al. 2022, 'An analytical estimation of spiking neural networks energy efficiency' "
                "(ICONIP, arXiv:2210.13107), via SpikingJelly 2.0 estimate_lemaire_energy",
                "operations and addressing (INT32: add 0.1 pJ, mult 3.1 pJ) plus SRAM reads and writes of "
                "inputs, weights and membrane potentials (cost per access from the buffer size)"),
):
    MODELS.register(_model)
DEFAULT_MODEL = "spikformer-45nm"


def model_names() -> tuple[str, ...]:
    return MODELS.names()


def get_model(name: str | EnergyModel) -> EnergyModel:
    """The registered model called ``name``; an unknown name is a one-line ``UsageError`` listing the names."""
    if isinstance(name, EnergyModel):
        return name
    return MODELS.get(name)


def help_text() -> str:
    """The --energy-model help: every model with what it charges."""
    return "energy model (docs/energy.md): " + MODELS.help(DEFAULT_MODEL)
