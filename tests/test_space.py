import random

import pytest

from autost.arch import Arch
from autost.space import SearchSpace
from conftest import SPACES


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_mutate_and_crossover_stay_in_space(path):
    space = SearchSpace.from_yaml(path)
    rng = random.Random(0)
    pop = [space.sample(rng) for _ in range(30)]
    for _ in range(300):
        a = space.mutate(rng.choice(pop), rng, m_prob=0.3, s_prob=0.5)
        assert space.contains(a)
        same_depth = [p for p in pop if p.depth == a.depth]
        if same_depth:
            c = space.crossover(a, rng.choice(same_depth), rng)
            assert space.contains(c)
            pop.append(c)
        pop.append(a)


def test_same_seed_same_sequence():
    space = SearchSpace.from_yaml(SPACES[0])

    def run(seed):
        rng = random.Random(seed)
        out = [space.sample(rng) for _ in range(5)]
        out += [space.mutate(out[i], rng, 0.2, 0.4) for i in range(5)]
        return out

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_mutation_grows_with_random_blocks_and_cuts_tail():
    space = SearchSpace((2, 4), (1, 2), (1, 2, 3, 4, 5, 6), (32,))
    parent = Arch(3, 32, (2, 2, 2), (1, 1, 1))
    rng = random.Random(1)
    grown = shrunk = 0
    for _ in range(400):
        child = space.mutate(parent, rng, m_prob=0.0, s_prob=1.0)
        if child.depth > 3:
            grown += 1
            assert child.mlp_ratio[:3] == parent.mlp_ratio and child.num_heads[:3] == parent.num_heads
        elif child.depth < 3:
            shrunk += 1
            assert child.mlp_ratio == parent.mlp_ratio[: child.depth]
    assert grown and shrunk
    # m_prob = 1 resamples every block; s_prob = 0 keeps depth and width
    kids = [space.mutate(parent, rng, m_prob=1.0, s_prob=0.0) for _ in range(50)]
    assert all(k.depth == 3 and k.embed_dim == 32 for k in kids)
    assert any(k.mlp_ratio != parent.mlp_ratio for k in kids)


def test_crossover_takes_each_gene_from_a_parent():
    space = SearchSpace.from_yaml(SPACES[0])
    rng = random.Random(2)
    a, b = Arch(3, 64, (2, 2, 2), (1, 1, 1)), Arch(3, 96, (4, 4, 4), (4, 4, 4))
    for _ in range(50):
        c = space.crossover(a, b, rng)
        assert c.embed_dim in (64, 96)
        assert all(r in (2, 4) for r in c.mlp_ratio) and all(h in (1, 4) for h in c.num_heads)
    with pytest.raises(ValueError, match="equal depth"):
        space.crossover(a, Arch(1, 64, (2,), (1,)), rng)


def test_size_counts_distinct_architectures():
    space = SearchSpace((2, 4), (1, 3), (1, 2), (16, 24))
    # width 16: heads {1}; width 24: heads {1, 3}
    expected = (2 * 1) ** 1 + (2 * 1) ** 2 + (2 * 2) ** 1 + (2 * 2) ** 2
    assert space.size() == expected
    rng = random.Random(0)
    seen = {space.sample(rng) for _ in range(3000)}
    assert len(seen) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("SEARCH_SPACE: [", "not valid YAML"),
        ("OTHER: {}", "SEARCH_SPACE"),
        ("SEARCH_SPACE: {MLP_RATIO: [], NUM_HEADS: [4], DEPTH: [1], EMBED_DIM: [64]}", "MLP_RATIO"),
        ("SEARCH_SPACE: {MLP_RATIO: [4], NUM_HEADS: [4], DEPTH: [1]}", "EMBED_DIM is missing"),
        ("SEARCH_SPACE: {MLP_RATIO: [4], NUM_HEADS: [3], DEPTH: [1], EMBED_DIM: [64]}", "no NUM_HEADS choice divides"),
        ("SEARCH_SPACE: {MLP_RATIO: [4], NUM_HEADS: [4], DEPTH: [x], EMBED_DIM: [64]}", "DEPTH"),
    ],
)
def test_bad_space_files(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        SearchSpace.from_yaml(path)
    assert str(path) in str(err.value)


def test_check_names_gene_outside_space():
    space = SearchSpace.from_yaml(SPACES[0])
    with pytest.raises(ValueError, match="EMBED_DIM 1024"):
        space.check(Arch(1, 1024, (2,), (1,)))
