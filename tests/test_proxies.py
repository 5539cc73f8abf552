import math

import pytest
import torch

from autost.arch import Arch
from autost.errors import BadInput
from autost.model import build_model
from autost.scores.grad_norm import grad_norm, layer_grad_norms
from autost.scores.synflow import synflow
from autost.scores.zico import layer_gradients, zico, zico_of_gradients

GEOMETRY = dict(in_channels=1, img_size=16, num_classes=10, time_steps=2, patch_size=4)


def _model(arch: Arch, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(arch, **GEOMETRY)


def _arch(depth: int, dim: int = 32) -> Arch:
    return Arch(depth, dim, (2,) * depth, (2,) * depth)


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.rand(8, 1, 16, 16, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, {m: m.training for m in model.modules()}


def _assert_unchanged(model, snapshot):
    state, modes = snapshot
    for key, value in model.state_dict().items():
        assert value.dtype == state[key].dtype, key
        assert torch.equal(value, state[key]), key
    assert all(m.training == modes[m] for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("score", ["synflow", "grad_norm", "zico"])
def test_finite_deterministic_and_model_untouched(score, batch):
    x, y = batch
    compute = {"synflow": lambda m: synflow(m, x), "grad_norm": lambda m: grad_norm(m, x, y),
               "zico": lambda m: zico(m, x, y)}[score]
    model = _model(_arch(2))
    model.train()
    snapshot = _snapshot(model)
    first = compute(model)
    _assert_unchanged(model, snapshot)
    assert math.isfinite(first) and first > 0
    assert compute(model) == first
    assert compute(_model(_arch(2))) == first  # same seed, fresh model


def test_synflow_restores_weights_after_float64_pass(batch):
    model = _model(_arch(1))
    weights = model.head.weight
    snapshot = _snapshot(model)
    synflow(model, batch[0])
    _assert_unchanged(model, snapshot)
    assert model.head.weight is weights and weights.dtype == torch.float32
    assert (model.head.weight < 0).any()  # signs are back, not left as absolute values
    assert torch.isfinite(model(batch[0])).all()  # the model still runs in float32


def test_synflow_grows_with_width(batch):
    scores = [synflow(_model(_arch(2, dim)), batch[0]) for dim in (16, 32, 64)]
    assert scores[0] < scores[1] < scores[2]


def test_synflow_grows_with_depth_of_the_same_network(batch):
    """Blocks appended to a network (its stem, first block and head kept) only add positive
    paths from input to output, so the score must not drop; batch-statistics BatchNorm or
    signed weights would break this."""
    base = _model(_arch(1))
    scores = []
    for depth in (1, 2, 3):
        model = _model(_arch(depth), seed=depth)
        for name in ("stem", "head"):
            getattr(model, name).load_state_dict(getattr(base, name).state_dict())
        model.blocks[0].load_state_dict(base.blocks[0].state_dict())
        scores.append(synflow(model, batch[0]))
    assert scores[0] < scores[1] < scores[2]


def test_synflow_ignores_the_data(batch):
    """Data-free: only the shape of the example matters."""
    model = _model(_arch(1))
    assert synflow(model, batch[0]) == synflow(model, torch.zeros(3, 1, 16, 16))


def test_grad_norm_reaches_the_stem_through_the_surrogate(batch):
    """The first conv sits behind every LIF layer of the network and still gets a gradient.
    (A layer whose input neurons stay silent gets none: at initialization that is often the
    attention output projection, fed by the threshold-0.5 LIF after ``attn @ v``.)"""
    norms = layer_grad_norms(_model(_arch(2)), *batch)
    assert all(math.isfinite(v) and v >= 0 for v in norms.values())
    assert norms["stem.stages.0.conv"] > 0
    assert sum(v > 0 for v in norms.values()) > len(norms) // 2


def test_grad_norm_only_the_head_learns_when_the_classifier_is_zero(batch):
    """With a zero classifier the loss does not depend on the body's weights: only the head
    has a gradient, and grad-norm is the norm of the head's gradient alone."""
    model = _model(_arch(2))
    with torch.no_grad():
        model.head.weight.zero_()
    norms = layer_grad_norms(model, *batch)
    assert norms["head"] > 0
    assert all(v == 0 for name, v in norms.items() if name != "head")
    assert grad_norm(model, *batch) == norms["head"]


def test_grad_norm_depends_on_the_labels(batch):
    x, y = batch
    model = _model(_arch(1))
    assert grad_norm(model, x, y) != grad_norm(model, x, (y + 1) % 10)


# --- ZiCo -----------------------------------------------------------------------------------------

def test_zico_of_constructed_gradients():
    """Layer a: |g| on the two batches (1, 2) and (3, 2): means (2, 2), stds (1, 0); the second
    weight has no finite ratio and is left out, so log(2 / 1). Layer b: (1, -4) and (3, 2) give
    |g| means (2, 3) and stds (1, 1): log(2 + 3). Layer c has no gradient and adds nothing.
    ZiCo = log 2 + log 5 = log 10."""
    gradients = {"a": torch.tensor([[1.0, 2.0], [3.0, 2.0]]), "b": torch.tensor([[1.0, -4.0], [3.0, 2.0]]),
                 "c": torch.zeros(2, 3)}
    assert zico_of_gradients(gradients) == pytest.approx(math.log(10))


def test_zico_splits_the_batch_into_halves(batch):
    """On a batch whose two halves are the same samples every weight's gradient is the same on
    both, so no weight has a finite ratio and ZiCo is 0; on distinct halves it is not."""
    x, y = batch
    model = _model(_arch(2))
    twice = torch.cat([x[:4], x[:4]]), torch.cat([y[:4], y[:4]])
    assert zico(model, *twice) == 0.0
    grads = layer_gradients(model, x, y)
    assert all(g.shape[0] == 2 for g in grads.values())
    assert grads["head"].abs().sum() > 0 and not torch.equal(grads["head"][0], grads["head"][1])
    assert zico(model, x, y) == zico_of_gradients(grads) > 0


def test_zico_refuses_a_batch_of_one(batch):
    with pytest.raises(BadInput, match="--batch-size must be at least 2"):
        zico(_model(_arch(1)), batch[0][:1], batch[1][:1])
