import dataclasses
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import datasets
from data_formats import write_cifar_binary, write_dvsgesture_npy, write_idx, write_nmnist_bin
from datasets import (KNOWN, DatasetInfo, DatasetNotFoundError, check_available, dataset_info,
                      get_dataset)
from datasets import cache, emulator, files, idx, neuromorphic, splits, static, tonic_sets

REAL = ("cifar10", "cifar100", "dvsgesture", "cifar10dvs", "nmnist")
IDX_SETS = ("mnist", "fashion-mnist", "nfashion")
FOLDERS = {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary", "dvsgesture": "DVSGesture",
           "cifar10dvs": "CIFAR10DVS", "nmnist": "NMNIST"}


# --- names, shapes, splits --------------------------------------------------------------------

def test_known_names_and_their_defaults():
    assert set(KNOWN) == {"digits", "ndigits", *REAL, *IDX_SETS}
    for name in KNOWN:
        info = dataset_info(name)
        assert isinstance(info, DatasetInfo) and info.name == name
        assert info.kind in ("static", "neuromorphic")
        tokens = info.img_size // info.patch_size
        assert info.img_size % info.patch_size == 0 and 4 <= tokens <= 16
        assert info.in_channels in ((2,) if info.kind == "neuromorphic" else (1, 3))
    assert dataset_info("fashion-mnist").img_size // dataset_info("fashion-mnist").patch_size == 7  # 49 tokens
    with pytest.raises(dataclasses.FrozenInstanceError):
        dataset_info("digits").img_size = 3


def test_unknown_name_or_split_is_a_value_error_listing_the_choices():
    with pytest.raises(ValueError, match="cifar10dvs") as err:
        get_dataset("kmnist", "train")
    assert all(name in str(err.value) for name in KNOWN)
    with pytest.raises(ValueError, match="kmnist"):
        check_available("kmnist", None)
    with pytest.raises(ValueError, match="val"):
        get_dataset("digits", "validation")


def test_select_is_stratified_disjoint_and_seeded():
    labels = np.repeat(np.arange(5), [100, 50, 30, 15, 5])
    parts = {s: splits.select(s, labels, seed=3, test_fraction=0.2) for s in ("train", "val", "test", "trainval")}
    assert sorted(np.concatenate([parts["train"], parts["val"], parts["test"]]).tolist()) == list(range(200))
    assert sorted(parts["trainval"].tolist()) == sorted(np.concatenate([parts["train"], parts["val"]]).tolist())
    assert len(parts["test"]) == 40 and len(parts["val"]) == 16
    for c, size in enumerate([100, 50, 30, 15, 5]):
        assert abs(np.sum(labels[parts["test"]] == c) - 0.2 * size) <= 1
    prefix = labels[parts["train"][:40]]  # any prefix is near class-balanced
    assert abs(np.sum(prefix == 0) - 40 * 100 / 200) <= 2
    assert np.array_equal(parts["test"], splits.select("test", labels, seed=3, test_fraction=0.2))
    assert set(parts["test"]) != set(splits.select("test", labels, seed=4, test_fraction=0.2))


# --- digits ------------------------------------------------------------------------------------

def test_digits_splits_shapes_and_normalization():
    from sklearn.datasets import load_digits

    raw = load_digits()
    parts = {s: get_dataset("digits", s, seed=0) for s in ("train", "val", "test")}
    index = np.concatenate([p.index for p in parts.values()])
    assert len(index) == 1797 == len(np.unique(index))
    assert len(parts["test"]) == round(0.2 * 1797)
    assert abs(len(parts["val"]) - 0.1 * (1797 - len(parts["test"]))) <= 1
    for split, part in parts.items():
        assert np.array_equal(part.labels, raw.target[part.index])
        if split != "val":
            assert set(part.labels.tolist()) == set(range(10))
    x, y = parts["train"][0]
    assert x.shape == (1, 16, 16) and x.dtype == torch.float32 and isinstance(y, int)
    trainval = torch.stack([x for x, _ in get_dataset("digits", "trainval", seed=0)])
    assert abs(trainval.mean().item()) < 1e-3 and abs(trainval.std().item() - 1) < 1e-2

    again, other = get_dataset("digits", "test", seed=0), get_dataset("digits", "test", seed=1)
    assert np.array_equal(again.index, parts["test"].index)
    assert set(other.index.tolist()) != set(parts["test"].index.tolist())

    small = get_dataset("digits", "test", img_size=8)  # no resizing: the raw 8x8 images, normalized
    first = small[0][0][0].numpy()
    assert first.shape == (8, 8)
    assert np.corrcoef(first.ravel(), raw.images[small.index[0]].ravel())[0, 1] > 0.999


# --- ndigits -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ndigits_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    start = time.perf_counter()
    batch, labels = neuromorphic.ndigits_events(root)
    return root, batch, labels, time.perf_counter() - start


def count_image(events: np.ndarray, side: int) -> np.ndarray:
    image = np.zeros((side, side))
    np.add.at(image, (events["y"], events["x"]), 1)
    return image


def test_ndigits_events_are_tonic_arrays_inside_the_recording(ndigits_cache):
    import tonic

    _, batch, labels, _ = ndigits_cache
    config = neuromorphic.NDIGITS_CONFIG
    assert len(batch) == len(labels) == 1797
    counts = batch.counts()
    assert counts.min() >= 100 and counts.max() <= 5000
    for i in range(0, 1797, 97):
        events = batch.events(i)
        assert events.dtype == tonic.datasets.NMNIST.dtype
        assert np.all(np.diff(events["t"]) >= 0)
        assert events["t"].min() >= 0 and events["t"].max() < config.duration_us
        assert set(np.unique(events["p"]).tolist()) == {0, 1}
        assert events["x"].max() < config.sensor and events["y"].max() < config.sensor
        # three saccades: each third of the recording has events
        assert len(np.unique(events["t"] * 3 // config.duration_us)) == 3


def test_ndigits_event_images_look_like_their_digits(ndigits_cache):
    _, batch, labels, _ = ndigits_cache
    config = neuromorphic.NDIGITS_CONFIG
    images, _ = neuromorphic.ndigits_source()
    ox, oy = np.rint(emulator.saccade_path(config).mean(axis=0)).astype(int)
    placed = np.zeros((len(images), config.sensor, config.sensor))
    placed[:, oy:oy + images.shape[1], ox:ox + images.shape[2]] = images
    seen = np.stack([count_image(batch.events(i), config.sensor) for i in range(len(batch))])
    other = np.array([(i + 1 + np.flatnonzero(np.roll(labels, -i - 1) != labels[i])[0]) % len(labels)
                      for i in range(len(labels))])  # the next sample of another class
    assert np.all(labels[other] != labels)
    own_r = np.array([np.corrcoef(seen[i].ravel(), placed[i].ravel())[0, 1] for i in range(len(labels))])
    other_r = np.array([np.corrcoef(seen[i].ravel(), placed[other[i]].ravel())[0, 1] for i in range(len(labels))])
    assert own_r.mean() > 0.3 and own_r.mean() > other_r.mean() and np.mean(own_r > other_r) > 0.55

    # the event images carry the class: nearest class-mean image on the test split, chance is 0.1
    train, test = splits.holdout(labels, 0.2, seed=0)
    flat = seen.reshape(len(seen), -1)
    flat = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    means = np.stack([flat[train][labels[train] == c].mean(axis=0) for c in range(10)])
    assert np.mean((flat[test] @ means.T).argmax(axis=1) == labels[test]) > 0.5


def test_ndigits_frames_and_split_match_digits(ndigits_cache):
    root = ndigits_cache[0]
    data = get_dataset("ndigits", "test", data_root=root, time_steps=5)
    x, y = data[0]
    assert x.shape == (5, 2, 32, 32) and x.dtype == torch.float32 and isinstance(y, int)
    assert np.array_equal(data.index, get_dataset("digits", "test").index)
    full = get_dataset("ndigits", "test", data_root=root, time_steps=5, img_size=34)[0][0]
    events = ndigits_cache[1].events(int(data.index[0]))
    assert full.sum() <= len(events) and full.sum() >= 0.99 * len(events)  # ToFrame drops the last bin edge
    assert full[:, 1].sum() > 0 and full[:, 0].sum() > 0
    assert torch.allclose(x.sum(), full.sum() * (32 / 34) ** 2, rtol=0.05)  # area averaging keeps the mean


def test_ndigits_second_load_reads_the_cache(ndigits_cache, monkeypatch):
    root, batch, _, first_seconds = ndigits_cache

    def no_emulation(*args, **kwargs):
        raise RuntimeError("the emulator ran although the events were cached")

    monkeypatch.setattr(emulator, "emulate", no_emulation)
    start = time.perf_counter()
    again, _ = neuromorphic.ndigits_events(root)
    assert time.perf_counter() - start < first_seconds / 3
    assert all(np.array_equal(getattr(again, f), getattr(batch, f)) for f in ("x", "y", "t", "p", "offsets"))
    get_dataset("ndigits", "train", data_root=root)[0]
    files = [p.name for p in (root / "ndigits").iterdir()]
    assert len(files) == 1 and files[0].startswith("events-") and files[0].endswith(".npz")
    with pytest.raises(RuntimeError, match="emulator ran"):  # other settings, other cache entry
        neuromorphic.ndigits_events(root, replace(neuromorphic.NDIGITS_CONFIG, threshold=0.5))


def test_emulator_reacts_only_to_change():
    config = replace(neuromorphic.NDIGITS_CONFIG, amplitude=0.0)
    still = emulator.emulate(np.ones((2, 28, 28), dtype=np.float32) * 0.7, config)
    assert len(still.t) == 0 and len(still) == 2
    bar = np.zeros((1, 28, 28), dtype=np.float32)
    bar[:, :, 10:14] = 1.0  # a vertical bar: events only where its edges pass
    events = emulator.emulate(bar, neuromorphic.NDIGITS_CONFIG).events(0)
    assert len(events) > 0
    columns = set(np.unique(events["x"]).tolist())
    assert columns <= set(range(9, 9 + 4 + 8)) and len(events[events["p"] == 1]) > 0


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "env"))
    assert cache.cache_dir("ndigits", tmp_path / "root") == tmp_path / "root" / "ndigits"
    assert cache.cache_dir("ndigits") == tmp_path / "env" / "ndigits"
    monkeypatch.delenv(cache.ENV_VAR)
    assert cache.cache_dir("ndigits") == Path.home() / ".cache" / "autost" / "ndigits"


def test_write_atomic_leaves_no_file_when_writing_fails(tmp_path):
    target = tmp_path / "sub" / "x.npy"

    def broken(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        cache.write_atomic(target, broken)
    assert list(target.parent.iterdir()) == []
    cache.write_atomic(target, lambda f: np.save(f, np.arange(3)))
    assert np.load(target).tolist() == [0, 1, 2]


# --- CIFAR binaries ----------------------------------------------------------------------------

def make_cifar(root: Path, name: str, per_file: int = 5, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    files = datasets.files.CIFAR[name]
    classes = 10 if name == "cifar10" else 100
    written = {}
    for part, filenames in (("train", files.train), ("test", files.test)):
        images, labels = [], []
        for filename in filenames:
            img = rng.integers(0, 256, (per_file, 3, 32, 32), dtype=np.uint8)
            fine = rng.integers(0, classes, per_file)
            columns = (fine,) if name == "cifar10" else ((fine + 7) % 20, fine)
            write_cifar_binary(root / files.folder / filename, img, *columns)
            images.append(img)
            labels.append(fine)
        written[part] = (np.concatenate(images), np.concatenate(labels))
    return written


def pixels(x: torch.Tensor, name: str) -> np.ndarray:
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in static.CIFAR_STATS[name])
    return (x * std + mean).numpy() * 255


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_reads_the_official_binary_format(name, tmp_path):
    written = make_cifar(tmp_path, name)
    test = get_dataset(name, "test", data_root=tmp_path)
    images, labels = written["test"]
    assert len(test) == len(labels) and sorted(test.index.tolist()) == list(range(len(labels)))
    for i in range(len(test)):
        x, y = test[i]
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32
        assert y == labels[test.index[i]]  # CIFAR-100: the fine label
        assert np.allclose(pixels(x, name), images[test.index[i]], atol=1e-3)
    train, val = get_dataset(name, "train", data_root=tmp_path), get_dataset(name, "val", data_root=tmp_path)
    n_train = len(written["train"][1])
    assert len(train) + len(val) == n_train and not set(train.index) & set(val.index)
    assert np.array_equal(val.labels, written["train"][1][val.index])


def test_cifar_train_augmentation_is_a_padded_crop_and_flip(tmp_path):
    written = make_cifar(tmp_path, "cifar10")
    train = get_dataset("cifar10", "train", data_root=tmp_path)
    torch.manual_seed(0)
    seen = set()
    for _ in range(6):
        for i in range(3):
            x, _ = train[i]
            original = np.pad(written["train"][0][train.index[i]], ((0, 0), (4, 4), (4, 4))).astype(float)
            got = pixels(x, "cifar10")
            matches = [(a, b, f) for a in range(9) for b in range(9) for f in (0, 1)
                       if np.allclose(got, (lambda c: c[..., ::-1] if f else c)(original[:, a:a + 32, b:b + 32]),
                                      atol=1e-3)]
            assert matches, "a training sample is not a crop of the zero-padded image"
            seen.add((i, matches[0]))
    assert len(seen) > 3  # the crops and flips vary
    assert get_dataset("cifar10", "val", data_root=tmp_path)[0][0].shape == (3, 32, 32)
    assert get_dataset("cifar10", "test", data_root=tmp_path, img_size=16)[0][0].shape == (3, 16, 16)


def test_cifar_incomplete_files_are_reported(tmp_path):
    make_cifar(tmp_path, "cifar10")
    batch = tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(DatasetNotFoundError, match="data_batch_3.bin"):
        check_available("cifar10", tmp_path)
    batch.unlink()
    with pytest.raises(DatasetNotFoundError, match="data_batch_3.bin"):
        get_dataset("cifar10", "test", data_root=tmp_path)


# --- tonic's event datasets --------------------------------------------------------------------

def make_nmnist(root: Path, per_class: int = 2, seed: int = 0) -> dict[Path, int]:
    """Each file's events all lie in column ``digit + 10 * k`` (k the file's number), so a frame tells
    which file it came from. Returns the event count per file."""
    rng = np.random.default_rng(seed)
    counts = {}
    for split in ("Train", "Test"):
        for digit in range(10):
            for k in range(per_class):
                n = int(rng.integers(150, 400))
                t = np.sort(rng.integers(0, 300_000, n))
                path = root / "NMNIST" / split / str(digit) / f"{k:05d}.bin"
                write_nmnist_bin(path, np.full(n, digit + 10 * k), rng.integers(0, 34, n), t, rng.integers(0, 2, n))
                counts[path] = n
    return counts


def test_nmnist_is_read_from_its_bin_files_through_tonic(tmp_path, monkeypatch):
    counts = make_nmnist(tmp_path)
    data = get_dataset("nmnist", "test", data_root=tmp_path, time_steps=3, img_size=34)
    assert len(data) == 20 and sorted(data.labels.tolist()) == sorted(list(range(10)) * 2)
    for i in range(len(data)):
        x, y = data[i]
        assert x.shape == (3, 2, 34, 34)
        columns = torch.nonzero(x.sum(dim=(0, 1, 2))).flatten().tolist()
        assert len(columns) == 1 and columns[0] % 10 == y
        n = counts[tmp_path / "NMNIST" / "Test" / str(y) / f"{columns[0] // 10:05d}.bin"]
        assert n - 3 <= x.sum() <= n and x[:, 0].sum() > 0 and x[:, 1].sum() > 0
    train, val = (get_dataset("nmnist", s, data_root=tmp_path) for s in ("train", "val"))
    assert len(train) + len(val) == 20 and not set(train.index) & set(val.index)
    assert train[0][0].shape == (4, 2, 32, 32)

    cached = list((tmp_path / "frames-nmnist").rglob("*.npy"))
    assert len(cached) == 21
    monkeypatch.setattr(neuromorphic, "to_frames", lambda *a: pytest.fail("frames were not read from the cache"))
    assert torch.equal(get_dataset("nmnist", "test", data_root=tmp_path, time_steps=3, img_size=34)[0][0], data[0][0])


def test_dvsgesture_is_read_from_tonics_npy_release(tmp_path):
    rng = np.random.default_rng(1)
    for split, users in (("ibmGestureTrain", ("user01_fluorescent", "user02_led")), ("ibmGestureTest", ("user24_led",))):
        for user in users:
            for label in range(11):
                n = 500
                write_dvsgesture_npy(tmp_path / "DVSGesture" / split / user / f"{label}.npy",
                                     np.full(n, 10 * label), rng.integers(0, 128, n), rng.integers(0, 2, n),
                                     np.sort(rng.integers(0, 2000, n)))
    data = get_dataset("dvsgesture", "test", data_root=tmp_path, time_steps=2)
    assert len(data) == 11
    for i in range(len(data)):
        x, y = data[i]
        assert x.shape == (2, 2, 128, 128)
        assert torch.nonzero(x.sum(dim=(0, 1, 2))).flatten().tolist() == [10 * y]
    assert get_dataset("dvsgesture", "train", data_root=tmp_path, img_size=64)[0][0].shape == (4, 2, 64, 64)


def test_tonic_readers_never_download(tmp_path, monkeypatch):
    import tonic.dataset
    import tonic.datasets.cifar10dvs

    def no_download(*args, **kwargs):
        pytest.fail("tonic tried to download")

    monkeypatch.setattr(tonic.dataset, "download_and_extract_archive", no_download)
    monkeypatch.setattr(tonic.datasets.cifar10dvs, "extract_archive", no_download)
    for name, reader in tonic_sets.READERS.items():
        assert reader.__name__ == FOLDERS[name]
        with pytest.raises(DatasetNotFoundError, match=FOLDERS[name]):
            reader(str(tmp_path))
    make_nmnist(tmp_path)  # tonic itself would download: there is no train.zip and far fewer than 10000 files
    assert len(tonic_sets.NMNIST(str(tmp_path), train=True)) == 20


# --- missing data ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REAL)
def test_missing_dataset_is_a_one_line_error_naming_path_and_source(name, tmp_path):
    for call in (lambda: check_available(name, tmp_path), lambda: get_dataset(name, "train", data_root=tmp_path)):
        with pytest.raises(DatasetNotFoundError) as err:
            call()
        message = str(err.value)
        assert isinstance(err.value, FileNotFoundError)
        assert "\n" not in message and str(tmp_path / FOLDERS[name]) in message and "https://" in message
    with pytest.raises(DatasetNotFoundError, match="--data-root") as err:
        get_dataset(name, "test")
    assert FOLDERS[name] in str(err.value) and "https://" in str(err.value)
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        check_available(name, None)


def test_partly_present_event_datasets_name_the_missing_part(tmp_path):
    (tmp_path / "CIFAR10DVS" / "airplane").mkdir(parents=True)
    (tmp_path / "CIFAR10DVS" / "airplane" / "cifar10_airplane_0.aedat4").write_bytes(b"")
    with pytest.raises(DatasetNotFoundError, match="automobile"):
        check_available("cifar10dvs", tmp_path)
    make_nmnist(tmp_path)
    for path in (tmp_path / "NMNIST" / "Test" / "7").iterdir():
        path.unlink()
    with pytest.raises(DatasetNotFoundError, match=r"Test.7"):
        check_available("nmnist", tmp_path)


def test_embedded_datasets_need_no_files():
    assert check_available("digits", None) is None
    assert check_available("ndigits", None) is None


# --- MNIST / Fashion-MNIST IDX files and nfashion -----------------------------------------------

INSTALLED_FASHION = Path("/usr/share/datasets/fashion-mnist")


def make_idx(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True, seed: int = 0
             ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Tiny IDX files: each image's pixel [0, 0] holds its number in the file, so a sample tells where
    it came from; labels cycle through the ten classes."""
    rng = np.random.default_rng(seed)
    written = {}
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n)
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        image_stem, label_stem = idx.PARTS[part]
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{image_stem}{suffix}", images)
        write_idx(folder / f"{label_stem}{suffix}", labels)
        written[part] = (images, labels)
    return written


@pytest.mark.parametrize("name,gz", [("fashion-mnist", True), ("mnist", False)])
def test_idx_files_are_read_gzipped_or_raw(name, gz, tmp_path):
    written = make_idx(tmp_path / name, gz=gz)
    parts = {s: get_dataset(name, s, data_root=tmp_path) for s in ("train", "val", "test", "trainval")}
    images, labels = written["test"]
    assert len(parts["test"]) == 20 and sorted(parts["test"].index.tolist()) == list(range(20))
    train_images = written["train"][0] / 255.0
    mean, std = train_images.mean(), train_images.std()
    for i in range(len(parts["test"])):
        x, y = parts["test"][i]
        j = parts["test"].index[i]
        assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == labels[j]
        assert np.allclose(x[0].numpy() * std + mean, images[j] / 255.0, atol=1e-5)
    assert len(parts["train"]) + len(parts["val"]) == 40 == len(parts["trainval"])
    assert not set(parts["train"].index) & set(parts["val"].index)
    assert len(parts["val"]) == 4 and sorted(parts["val"].labels.tolist()) == sorted(set(parts["val"].labels.tolist()))
    x, _ = parts["train"][0]
    assert int(round(float(x[0, 0, 0]) * std * 255 + mean * 255)) == parts["train"].index[0]
    assert get_dataset(name, "test", data_root=tmp_path, img_size=16)[0][0].shape == (1, 16, 16)
    assert np.array_equal(get_dataset(name, "val", data_root=tmp_path, seed=0).index, parts["val"].index)
    assert not np.array_equal(get_dataset(name, "val", data_root=tmp_path, seed=1).index, parts["val"].index)


def _damage(folder: Path, stem: str, how: str) -> None:
    path = folder / f"{stem}.gz"
    if how == "truncated":
        data = gzip_bytes(path)
        write_raw_gz(path, data[:-100])
    elif how == "cut gzip stream":
        path.write_bytes(path.read_bytes()[:-40])
    elif how == "bad magic":
        write_idx(path, np.zeros((40, 28, 28)), magic=0x0801)
    elif how == "wrong dims":
        write_idx(path, np.zeros((40, 32, 32)))
    elif how == "count mismatch":
        write_idx(path, np.arange(39) % 10)
    elif how == "label out of range":
        write_idx(path, np.full(40, 12))


def gzip_bytes(path: Path) -> bytes:
    import gzip

    return gzip.decompress(path.read_bytes())


def write_raw_gz(path: Path, data: bytes) -> None:
    import gzip

    path.write_bytes(gzip.compress(data))


@pytest.mark.parametrize("stem,how", [
    ("train-images-idx3-ubyte", "truncated"), ("train-images-idx3-ubyte", "cut gzip stream"),
    ("train-images-idx3-ubyte", "bad magic"), ("train-images-idx3-ubyte", "wrong dims"),
    ("train-labels-idx1-ubyte", "count mismatch"), ("train-labels-idx1-ubyte", "label out of range")])
def test_damaged_idx_files_are_one_line_errors_naming_the_file(stem, how, tmp_path):
    make_idx(tmp_path / "fashion-mnist")
    _damage(tmp_path / "fashion-mnist", stem, how)
    with pytest.raises(idx.IdxFormatError) as err:
        get_dataset("fashion-mnist", "val", data_root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "fashion-mnist" / f"{stem}.gz") in message
    assert isinstance(err.value, ValueError)  # the CLI's one-line exit-2 path


@pytest.mark.parametrize("name", IDX_SETS)
def test_missing_idx_files_name_the_expected_path_and_how_to_get_them(name, tmp_path, monkeypatch):
    monkeypatch.setattr(files, "DEFAULT_ROOTS", {})  # as on a machine without the Debian package
    folder = "mnist" if name == "mnist" else "fashion-mnist"
    with pytest.raises(DatasetNotFoundError) as err:
        get_dataset(name, "test", data_root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / folder / "train-images-idx3-ubyte") in message
    assert "t10k-labels-idx1-ubyte" in message and "://" in message
    if name != "mnist":
        assert "apt-get install dataset-fashion-mnist" in message
    with pytest.raises(DatasetNotFoundError, match="--data-root"):
        check_available(name, None)
    make_idx(tmp_path / folder)
    (tmp_path / folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"t10k-labels-idx1-ubyte\[\.gz\]"):
        check_available(name, tmp_path)


def test_fashion_mnist_defaults_to_the_debian_folder(tmp_path, monkeypatch):
    written = make_idx(tmp_path / "fashion-mnist", gz=False)
    monkeypatch.setattr(files, "DEFAULT_ROOTS", {"fashion-mnist": tmp_path, "nfashion": tmp_path})
    assert check_available("fashion-mnist", None) is None
    test = get_dataset("fashion-mnist", "test")
    assert np.array_equal(test.labels, written["test"][1][test.index])
    with pytest.raises(DatasetNotFoundError, match="--data-root"):  # MNIST has no default folder
        check_available("mnist", None)


@pytest.mark.skipif(not INSTALLED_FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_installed_fashion_mnist_matches_the_packages_own_reader():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mnist_reader", "/usr/share/doc/dataset-fashion-mnist/utils/mnist_reader.py")
    reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reader)  # Zalando's loader, shipped in the package: an independent reader
    for part, kind, n in (("train", "train", 60000), ("test", "t10k", 10000)):
        ours = idx.read_part(INSTALLED_FASHION, part)
        theirs_images, theirs_labels = reader.load_mnist(str(INSTALLED_FASHION), kind=kind)
        assert ours.images.shape == (n, 28, 28)
        assert np.array_equal(ours.images.reshape(n, -1), theirs_images)
        assert np.array_equal(ours.labels, theirs_labels)
        assert np.bincount(ours.labels).tolist() == [n // 10] * 10
    val = get_dataset("fashion-mnist", "val")
    assert len(val) == 6000 and np.bincount(val.labels).tolist() == [600] * 10  # stratified carve
    mean, std = static.pixel_stats(idx.read_part(INSTALLED_FASHION, "train").images)
    assert abs(mean - 0.2860) < 1e-3 and abs(std - 0.3530) < 1e-3  # the widely quoted training-set stats


def test_nfashion_is_chunked_cached_and_split_like_fashion_mnist(tmp_path, monkeypatch):
    make_idx(tmp_path / "fashion-mnist", n_train=30, n_test=10)
    cache_root = tmp_path / "cache"
    events, labels = neuromorphic.nfashion_events("train", root=tmp_path, cache_root=cache_root, chunk=8)
    assert len(events) == 30 and len(labels) == 30
    (folder,) = (cache_root / "nfashion").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [f"chunk-{k:04d}" for k in range(4)]
    config = neuromorphic.NDIGITS_CONFIG
    images = idx.read_part(tmp_path / "fashion-mnist", "train").images.astype(np.float32) / 255
    for j in (0, 7, 8, 29):  # the same recordings as emulating the image alone
        alone = emulator.emulate(images[j:j + 1], config).events(0)
        assert np.array_equal(events.events(j), alone)
    assert events.events(8).dtype == emulator.EVENT_DTYPE

    # an interrupted run: only the missing chunk is emulated again
    (folder / "chunk-0002" / "offsets.npy").unlink()
    emulated = []
    real_emulate = emulator.emulate
    monkeypatch.setattr(emulator, "emulate", lambda imgs, cfg: emulated.append(len(imgs)) or real_emulate(imgs, cfg))
    again, _ = neuromorphic.nfashion_events("train", root=tmp_path, cache_root=cache_root, chunk=8)
    assert emulated == [8] and np.array_equal(again.events(17), events.events(17))
    neuromorphic.nfashion_events("train", root=tmp_path, cache_root=cache_root,
                                 config=replace(config, threshold=0.5), chunk=8)
    assert emulated == [8, 8, 8, 8, 6] and len(list((cache_root / "nfashion").iterdir())) == 2  # settings in the key

    data = get_dataset("nfashion", "val", data_root=tmp_path, time_steps=3)
    assert np.array_equal(data.index, get_dataset("fashion-mnist", "val", data_root=tmp_path).index)
    x, y = data[0]
    assert x.shape == (3, 2, 32, 32) and y == labels[data.index[0]] and x.sum() > 0
