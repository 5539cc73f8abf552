"""The size scores: MACs in G (AutoST's default, ``flops``) and the parameter count (``params``,
the baseline that White et al. 2022, "A Deeper Look at Zero-Cost Proxies", find hard to beat).
Both come from the closed form (``autost.cost``): no network is built."""
from autost.scores import SCORES, Score

# correlate records the MACs themselves (its "macs" column), which rank exactly as flops
SCORES.register(Score("flops", "MACs in G (AutoST's default)", lambda ctx: ctx.cost.macs / 1e9, study=False))
SCORES.register(Score("params", "the parameter count (White et al. 2022's baseline)", lambda ctx: ctx.cost.params))
