"""Dataset names: the data directory, the listing, errors, and downloads (simulated offline)."""

from __future__ import annotations

import builtins
import sys
import types
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest

from metasparse.data import available_datasets, load_dataset, resolve_data_dir
from metasparse.errors import DataError


def _write_npz(path: Path, n: int = 30) -> None:
    np.savez(path, X=np.arange(n * 2, dtype=np.float32).reshape(n, 2), y=np.arange(n) % 3)


# --- the data directory -------------------------------------------------------------------


def test_data_directory_argument_then_environment_then_home_cache(tmp_path, monkeypatch):
    home = Path.home()
    assert resolve_data_dir() == home / ".cache" / "metasparse" / "data"
    monkeypatch.setenv("METASPARSE_DATA_DIR", str(tmp_path / "from_env"))
    assert resolve_data_dir() == tmp_path / "from_env"
    assert resolve_data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_dir("~/x") == home / "x"


def test_available_without_a_data_directory_lists_the_bundled_datasets():
    assert available_datasets() == ["breast_cancer", "digits", "iris", "wine"]


def test_available_lists_everything_that_loads_without_download(data_dir, writers):
    _write_npz(data_dir / "toy.npz")
    writers.mnist(data_dir / "MNIST" / "raw", gz=True)
    writers.cifar(data_dir / "cifar-10-batches-py")
    (data_dir / "openml").mkdir()
    _write_npz(data_dir / "openml" / "1485.npz")
    _write_npz(data_dir / "openml" / "42.npz")
    _write_npz(data_dir / "openml" / "not-an-id.npz")
    (data_dir / "notes.txt").write_text("not a dataset")
    assert available_datasets() == [
        "breast_cancer",
        "cifar10",
        "digits",
        "iris",
        "madelon",
        "mnist",
        "openml:1485",
        "openml:42",
        "toy",
        "wine",
    ]
    for name in available_datasets():
        assert load_dataset(name).n_features > 0


def test_names_are_forgiving_about_case_and_dashes(data_dir, writers):
    writers.mnist(data_dir / "fashion_mnist", gz=False)
    assert load_dataset("Fashion-MNIST").name == "fashion_mnist"
    assert load_dataset("FashionMNIST").name == "fashion_mnist"
    assert load_dataset("Breast-Cancer").name == "breast_cancer"


def test_the_data_directory_comes_before_the_bundled_datasets(data_dir):
    _write_npz(data_dir / "iris.npz")
    assert load_dataset("iris").n_features == 2


# --- errors -------------------------------------------------------------------------------


def test_unknown_name_lists_the_available_names(data_dir):
    _write_npz(data_dir / "toy.npz")
    with pytest.raises(DataError) as error:
        load_dataset("foo")
    message = str(error.value)
    assert message.startswith(
        "Unknown dataset 'foo'. Available: breast_cancer, digits, iris, toy, wine;"
    )
    assert "with download=True also: arcene, cifar10, cifar100, fashion_mnist, isolet, madelon" \
        in message
    assert f"(data directory: {data_dir}; set METASPARSE_DATA_DIR or pass data_dir)" in message
    assert "\n" not in message


def test_unknown_name_suggests_a_close_one():
    with pytest.raises(DataError, match=r"Unknown dataset 'mnsit' \(did you mean 'mnist'\?\)"):
        load_dataset("mnsit")


def test_empty_name():
    with pytest.raises(DataError, match="non-empty string"):
        load_dataset("  ")


def test_label_column_is_only_for_tables(data_dir):
    _write_npz(data_dir / "toy.npz")
    with pytest.raises(DataError, match="label_column applies to CSV and Parquet files only"):
        load_dataset("toy", label_column="label")
    with pytest.raises(DataError, match="label_column applies to CSV and Parquet files only"):
        load_dataset(str(data_dir / "toy.npz"), label_column="label")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_vision_dataset_absent_without_download(data_dir, name):
    with pytest.raises(DataError, match=rf"Dataset '{name}' is not in .*download=True"):
        load_dataset(name)


def test_known_openml_name_absent_without_download(data_dir):
    with pytest.raises(DataError, match=r"download=True to fetch it from OpenML \(data id 1485\)"):
        load_dataset("madelon")


@pytest.mark.parametrize("name", ["openml:abc", "openml:", "openml:-3"])
def test_malformed_openml_name(name):
    with pytest.raises(DataError, match="openml:<data id>"):
        load_dataset(name)


# --- torchvision downloads ----------------------------------------------------------------


def test_download_without_torchvision(data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(DataError) as error:
        load_dataset("mnist", download=True)
    assert str(error.value) == (
        "torchvision is needed to download mnist: pip install metasparse[vision]"
    )


def test_download_with_a_torchvision_that_does_not_load(data_dir, monkeypatch):
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise RuntimeError("operator torchvision::nms does not exist\nmore details")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    with pytest.raises(DataError) as error:
        load_dataset("cifar10", download=True)
    message = str(error.value)
    assert message.startswith("torchvision is needed to download cifar10: pip install ")
    assert "RuntimeError: operator torchvision::nms does not exist" in message
    assert "\n" not in message


def _fake_torchvision(monkeypatch, dataset_class) -> list:
    calls = []
    datasets = types.ModuleType("torchvision.datasets")

    class Recorder:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            dataset_class(Path(root), train)

    datasets.MNIST = datasets.FashionMNIST = datasets.CIFAR10 = Recorder
    package = types.ModuleType("torchvision")
    package.datasets = datasets
    monkeypatch.setitem(sys.modules, "torchvision", package)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    return calls


def test_download_through_torchvision_then_load_from_its_folder(data_dir, monkeypatch, writers):
    def fake_mnist(root: Path, train: bool) -> None:
        if train:  # torchvision writes both .gz and extracted files under <root>/MNIST/raw
            writers.mnist(root / "MNIST" / "raw", gz=True)

    calls = _fake_torchvision(monkeypatch, fake_mnist)
    dataset = load_dataset("mnist", download=True)
    assert calls == [(str(data_dir), True, True), (str(data_dir), False, True)]
    assert (len(dataset.y_test), dataset.image_shape) == (20, (1, 28, 28))
    load_dataset("mnist", download=True)
    assert len(calls) == 2  # present now: no second download


def test_failed_torchvision_download_is_one_line(data_dir, monkeypatch):
    def offline(root: Path, train: bool) -> None:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    _fake_torchvision(monkeypatch, offline)
    with pytest.raises(DataError) as error:
        load_dataset("fashion_mnist", download=True)
    assert str(error.value) == (
        f"Could not download fashion_mnist into {data_dir}: URLError: <urlopen error "
        "[Errno -3] Temporary failure in name resolution>"
    )


# --- OpenML downloads ---------------------------------------------------------------------


def _fake_fetch_openml(monkeypatch, calls: list) -> None:
    def fetch_openml(*, data_id, data_home, parser):
        calls.append((data_id, data_home))
        n = 24
        data = pd.DataFrame(
            {
                "x": np.arange(n, dtype=np.float64),
                "colour": pd.Categorical(["red", "blue", "green"] * (n // 3)),
            }
        )
        target = pd.Series(pd.Categorical(["yes", "no"] * (n // 2)), name="class")
        return types.SimpleNamespace(data=data, target=target)

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fetch_openml)


def test_openml_download_is_converted_and_cached(data_dir, monkeypatch):
    calls = []
    _fake_fetch_openml(monkeypatch, calls)
    dataset = load_dataset("openml:4242", download=True)
    assert calls == [(4242, str(data_dir))]
    assert (dataset.name, dataset.n_features, dataset.n_classes) == ("openml:4242", 2, 2)
    with np.load(data_dir / "openml" / "4242.npz") as cached:
        assert cached["X"].dtype == np.float32
        assert sorted(set(cached["X"][:, 1])) == [0.0, 1.0, 2.0]  # categories blue, green, red
        assert cached["y"].tolist() == [1, 0] * 12  # labels sorted: no -> 0, yes -> 1
    assert load_dataset("openml:4242").n_features == 2  # from the cache, no download
    assert len(calls) == 1
    assert "openml:4242" in available_datasets()


def test_known_name_downloads_its_openml_id(data_dir, monkeypatch):
    calls = []
    _fake_fetch_openml(monkeypatch, calls)
    assert load_dataset("madelon", download=True).name == "madelon"
    assert calls[0][0] == 1485
    assert "madelon" in available_datasets()


def test_openml_without_download_or_cache(data_dir):
    with pytest.raises(DataError, match=r"'openml:31' is not in .*pass download=True"):
        load_dataset("openml:31")


def test_failed_openml_download_is_one_line(data_dir, monkeypatch):
    def offline(**kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr("sklearn.datasets.fetch_openml", offline)
    with pytest.raises(DataError) as error:
        load_dataset("isolet", download=True)
    assert str(error.value) == (
        "Could not download isolet (openml:300) from OpenML: "
        "URLError: <urlopen error [Errno -2] Name or service not known>"
    )


def test_openml_with_missing_values_is_refused(data_dir, monkeypatch):
    def fetch_openml(**kwargs):
        data = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0]})
        return types.SimpleNamespace(data=data, target=pd.Series([0, 1, 0, 1]))

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fetch_openml)
    with pytest.raises(DataError, match="openml:7 has missing values"):
        load_dataset("openml:7", download=True)
