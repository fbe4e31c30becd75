"""Each on-disk format, read from small files that the tests write in that exact format."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import torch
import waiting

from metasparse.data import available_datasets, dataset_from_arrays, load_dataset
from metasparse.data._formats import read_idx
from metasparse.data._read import read_source
from metasparse.errors import DataError


def _rows(X: torch.Tensor) -> set[tuple[float, ...]]:
    return {tuple(row) for row in X.tolist()}


# --- IDX (MNIST, Fashion-MNIST) ------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize(
    ("name", "folder"),
    [
        ("mnist", "mnist"),
        ("mnist", "MNIST/raw"),
        ("fashion_mnist", "fashion_mnist"),
        ("fashion_mnist", "FashionMNIST/raw"),
    ],
)
def test_idx_datasets_keep_the_official_test_set(data_dir, writers, name, folder, gz):
    X, _, X_test, y_test = writers.mnist(data_dir / folder, gz=gz)
    dataset = load_dataset(name, val_fraction=0.25)
    assert dataset.name == name
    assert dataset.image_shape == (1, 28, 28)
    assert (dataset.n_features, dataset.n_classes) == (784, 10)
    assert dataset.X_train.dtype == torch.float32 and dataset.y_train.dtype == torch.int64
    assert torch.equal(dataset.X_test, torch.from_numpy(X_test.reshape(20, -1).astype(np.float32)))
    assert torch.equal(dataset.y_test, torch.from_numpy(y_test.astype(np.int64)))
    assert (len(dataset.y_train), len(dataset.y_val)) == (45, 15)
    assert sorted(torch.bincount(dataset.y_val, minlength=10).tolist()) == [1] * 5 + [2] * 5
    train_rows = _rows(dataset.X_train) | _rows(dataset.X_val)
    assert train_rows == _rows(torch.from_numpy(X.reshape(60, -1).astype(np.float32)))
    assert float(dataset.X_train.max()) > 1.0  # raw pixel values, not scaled


def test_idx_reader_handles_big_endian_types(tmp_path, writers):
    values = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 100_000
    writers.idx(tmp_path / "values-idx2-int", values)
    assert np.array_equal(read_idx(tmp_path / "values-idx2-int"), values)
    floats = np.linspace(-1, 1, 10, dtype=np.float32)
    writers.idx(tmp_path / "floats.gz", floats)
    assert np.array_equal(read_idx(tmp_path / "floats.gz"), floats)


def test_idx_reader_rejects_a_bad_magic_number(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_idx_reader_rejects_a_truncated_file(tmp_path, writers):
    writers.idx(tmp_path / "images", np.zeros((4, 2, 2), dtype=np.uint8))
    (tmp_path / "cut").write_bytes((tmp_path / "images").read_bytes()[:-3])
    with pytest.raises(DataError, match="does not match the IDX header"):
        read_idx(tmp_path / "cut")


def test_incomplete_idx_folder_is_not_a_dataset(data_dir, writers):
    writers.mnist(data_dir / "mnist", gz=True)
    (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert "mnist" not in available_datasets()
    with pytest.raises(DataError, match="download=True"):
        load_dataset("mnist")


# --- CIFAR-10 -----------------------------------------------------------------------------


def test_cifar10_batches(data_dir, writers):
    batches = writers.cifar(data_dir / "cifar-10-batches-py")
    dataset = load_dataset("cifar10", val_fraction=0.2)
    assert dataset.image_shape == (3, 32, 32)
    assert (dataset.n_features, dataset.n_classes) == (3072, 10)
    assert (len(dataset.y_train), len(dataset.y_val), len(dataset.y_test)) == (80, 20, 20)
    test_data, test_labels = batches["test_batch"]
    assert torch.equal(dataset.X_test, torch.from_numpy(test_data.astype(np.float32)))
    assert dataset.y_test.tolist() == test_labels.tolist()
    train = np.concatenate([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    assert _rows(dataset.X_train) | _rows(dataset.X_val) == _rows(torch.from_numpy(train * 1.0))
    # CHW order: the first 1024 values of a row are the red plane of that image
    image = dataset.X_test[0].reshape(3, 32, 32)
    assert torch.equal(image[0].flatten(), torch.from_numpy(test_data[0, :1024] * 1.0).float())


def test_cifar10_missing_batch(data_dir, writers):
    writers.cifar(data_dir / "cifar-10-batches-py")
    (data_dir / "cifar-10-batches-py" / "data_batch_3").unlink()
    assert "cifar10" not in available_datasets()
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_dataset("cifar10")


# --- CSV and Parquet ----------------------------------------------------------------------


def _table(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "label": np.where(np.arange(n) % 2 == 0, "dog", "cat"),
            "b": np.arange(n, dtype=np.int64),
            "c": rng.normal(size=n) > 0,
        }
    )


def test_csv_with_a_label_column_and_string_labels(tmp_path):
    frame = _table()
    frame.to_csv(tmp_path / "pets.csv", index=False)
    dataset = load_dataset(str(tmp_path / "pets.csv"))
    assert dataset.name == "pets"
    assert (dataset.n_features, dataset.n_classes, dataset.image_shape) == (3, 2, None)
    # sorted unique labels: cat -> 0, dog -> 1; the feature "b" identifies each sample
    for X, y in ((dataset.X_train, dataset.y_train), (dataset.X_test, dataset.y_test)):
        rows = X[:, 1].long()
        expected = (frame["label"].to_numpy()[rows.numpy()] == "dog").astype(np.int64)
        assert y.tolist() == expected.tolist()


def test_csv_label_column_by_name_and_the_last_column_fallback(tmp_path):
    frame = _table().drop(columns=["label"])
    frame.insert(1, "target", np.arange(len(frame)) % 4 + 10)
    frame.to_csv(tmp_path / "t.csv.gz", index=False)
    by_name = load_dataset(str(tmp_path / "t.csv.gz"), label_column="target")
    assert (by_name.name, by_name.n_features, by_name.n_classes) == ("t", 3, 4)
    assert sorted(torch.bincount(by_name.y_train).tolist()) == [6, 6, 6, 6]
    last_column = load_dataset(str(tmp_path / "t.csv.gz"))  # "c", a boolean, is last
    assert (last_column.n_features, last_column.n_classes) == (3, 2)


def test_missing_label_column_lists_the_columns(tmp_path):
    _table().to_csv(tmp_path / "pets.csv", index=False)
    with pytest.raises(DataError, match=r"no label column 'species'.*'a', 'label', 'b', 'c'"):
        load_dataset(str(tmp_path / "pets.csv"), label_column="species")


def test_table_with_a_text_feature_is_refused(tmp_path):
    frame = _table()
    frame["colour"] = "red"
    frame.to_csv(tmp_path / "pets.csv", index=False)
    with pytest.raises(DataError, match=r"\['colour'\] are not numeric"):
        load_dataset(str(tmp_path / "pets.csv"))


def test_table_with_missing_values_is_refused(tmp_path):
    frame = _table()
    frame.loc[3, "a"] = np.nan
    frame.to_csv(tmp_path / "pets.csv", index=False)
    with pytest.raises(DataError, match=r"\['a'\] have missing values"):
        load_dataset(str(tmp_path / "pets.csv"))


def test_table_with_one_column_is_refused(tmp_path):
    pd.DataFrame({"label": [0, 1] * 5}).to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataError, match="at least one feature column"):
        load_dataset(str(tmp_path / "one.csv"))


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    frame = _table()
    frame.to_parquet(tmp_path / "pets.parquet")
    dataset = load_dataset(str(tmp_path / "pets.parquet"))
    from_csv = _table()
    from_csv.to_csv(tmp_path / "pets.csv", index=False)
    same = load_dataset(str(tmp_path / "pets.csv"))
    assert dataset.name == "pets"
    assert torch.allclose(dataset.X_train, same.X_train)
    assert torch.equal(dataset.y_train, same.y_train)


def test_table_file_found_in_the_data_directory(data_dir):
    _table().to_csv(data_dir / "pets.csv", index=False)
    assert load_dataset("pets.csv").n_features == 3


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "nothing.csv"))


def test_unsupported_file_suffix(tmp_path):
    (tmp_path / "data.txt").write_text("1,2\n")
    with pytest.raises(DataError, match=r"dataset files end in \.csv"):
        load_dataset(str(tmp_path / "data.txt"))


# --- npz ----------------------------------------------------------------------------------


def _write_npz(path, n=60, features=6, classes=3, seed=0, **extra):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    y = np.arange(n) % classes
    np.savez(path, X=X, y=y, **extra)
    return X, y


def test_npz_in_the_data_directory(data_dir):
    X, _ = _write_npz(data_dir / "toy.npz")
    assert "toy" in available_datasets()
    dataset = load_dataset("toy")
    assert (dataset.name, dataset.n_features, dataset.n_classes) == ("toy", 6, 3)
    assert (len(dataset.y_train), len(dataset.y_val), len(dataset.y_test)) == (36, 12, 12)
    everything = torch.cat([dataset.X_train, dataset.X_val, dataset.X_test])
    assert _rows(everything) == _rows(torch.from_numpy(X))


def test_npz_by_path_and_explicit_data_dir(tmp_path):
    _write_npz(tmp_path / "toy.npz")
    assert load_dataset(str(tmp_path / "toy.npz")).name == "toy"
    assert load_dataset(tmp_path / "toy.npz").name == "toy"
    assert load_dataset("toy", data_dir=tmp_path).n_features == 6
    assert "toy" in available_datasets(tmp_path)


def test_npz_of_images_gets_an_image_shape(data_dir):
    rng = np.random.default_rng(0)
    np.savez(data_dir / "tiny.npz", X=rng.random((30, 3, 4, 5)), y=np.arange(30) % 3)
    dataset = load_dataset("tiny")
    assert (dataset.n_features, dataset.image_shape) == (60, (3, 4, 5))


def test_known_image_names_get_their_shape_only_when_it_fits(data_dir):
    _write_npz(data_dir / "coil20.npz", features=1024, n=200, classes=20)
    _write_npz(data_dir / "usps.npz", features=10)
    assert load_dataset("coil20").image_shape == (1, 32, 32)
    assert load_dataset("usps").image_shape is None


def test_npz_without_y(data_dir):
    np.savez(data_dir / "broken.npz", X=np.zeros((4, 2)))
    with pytest.raises(DataError, match="must hold arrays 'X' and 'y'"):
        load_dataset("broken")


def test_corrupt_npz(data_dir):
    (data_dir / "corrupt.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="Cannot read"):
        load_dataset("corrupt")


def test_raw_arrays_are_cached_and_reread_when_the_file_changes(data_dir):
    _write_npz(data_dir / "toy.npz")
    load_dataset("toy")
    load_dataset("toy", split_seed=1)
    assert read_source.cache_info().hits >= 1
    assert read_source.cache_info().misses == 1
    _write_npz(data_dir / "toy.npz", features=9, seed=1)
    assert load_dataset("toy").n_features == 9


def test_cached_arrays_cannot_be_modified_through_a_dataset(data_dir):
    _write_npz(data_dir / "toy.npz")
    first = load_dataset("toy")
    first.X_train.add_(1000.0)
    assert float(load_dataset("toy").X_train.max()) < 100.0


# --- scikit-learn bundled -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "samples", "features", "classes", "image_shape"),
    [
        ("digits", 1797, 64, 10, (1, 8, 8)),
        ("breast_cancer", 569, 30, 2, None),
        ("wine", 178, 13, 3, None),
        ("iris", 150, 4, 3, None),
    ],
)
def test_sklearn_bundled(name, samples, features, classes, image_shape):
    dataset = load_dataset(name)
    total = len(dataset.y_train) + len(dataset.y_val) + len(dataset.y_test)
    assert (total, dataset.n_features, dataset.n_classes) == (samples, features, classes)
    assert dataset.image_shape == image_shape


# --- the real datasets of ../shared/data --------------------------------------------------


def test_real_coil20(shared_data):
    dataset = load_dataset("coil20", data_dir=shared_data)
    X = torch.cat([dataset.X_train, dataset.X_val, dataset.X_test])
    assert tuple(X.shape) == (1440, 1024)
    assert dataset.n_classes == 20
    assert dataset.image_shape == (1, 32, 32)
    assert set(torch.bincount(dataset.y_train).tolist()) <= {43, 44}


def test_real_isolet_and_the_shared_listing(shared_data):
    dataset = load_dataset("isolet", data_dir=shared_data)
    assert (dataset.n_features, dataset.n_classes, dataset.image_shape) == (617, 26, None)
    assert len(dataset.y_train) + len(dataset.y_val) + len(dataset.y_test) == 1560
    assert {"coil20", "isolet", "madelon", "digits"} <= set(available_datasets(shared_data))


# --- data that cannot be learned --------------------------------------------------------


def _unlearnable(tmp_path, kind: str):
    """A user file whose labels cannot be learned, and the message that refuses it."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    if kind == "single class csv":
        frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": "dog"})
        path, found = tmp_path / "one.csv", "every one of the 100 samples has the label 'dog'"
    elif kind == "single class npz":
        path, found = tmp_path / "one.npz", "every one of the 100 samples has the label 3"
        np.savez(path, X=X, y=np.full(100, 3))
        return path, found
    elif kind == "continuous csv":
        frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "price": rng.uniform(0, 5, 100)})
        path, found = tmp_path / "reg.csv", "the labels are continuous numbers (100 distinct"
    else:  # continuous npz with a missing label
        y = np.arange(100) % 4 + 0.0
        y[7] = np.nan
        path, found = tmp_path / "nan.npz", "1 labels are missing (NaN)"
        np.savez(path, X=X, y=y)
        return path, found
    frame.to_csv(path, index=False)
    return path, found


UNLEARNABLE = ["single class csv", "single class npz", "continuous csv", "missing npz"]


@pytest.mark.parametrize("kind", UNLEARNABLE)
def test_labels_that_cannot_be_learned_are_refused_naming_what_was_found(tmp_path, kind):
    # once: one class trained to accuracy 1.0, continuous labels became ~100 classes
    path, found = _unlearnable(tmp_path, kind)
    with pytest.raises(DataError) as caught:
        load_dataset(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and found in message and "\n" not in message
    assert "at least 2 classes" in message or "class label" in message


def test_arrays_with_one_class_or_fractional_labels_are_refused():
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(DataError, match=r"^Dataset 'a': every one of the 30 samples has the "
                                        r"label 'x'; classification needs at least 2 classes"):
        dataset_from_arrays("a", X, np.full(30, "x", dtype=object))
    with pytest.raises(DataError, match=r"^Dataset 'b': the labels are continuous numbers"):
        dataset_from_arrays("b", X, np.linspace(0, 1, 30))
    # whole-valued floats are class labels (a CSV column read as float)
    assert dataset_from_arrays("c", X, np.arange(30) % 3 + 0.0).n_classes == 3


@pytest.mark.parametrize("kind", UNLEARNABLE)
def test_the_cli_refuses_an_unlearnable_user_file_before_training(tmp_path, kind):
    path, found = _unlearnable(tmp_path, kind)
    result = waiting.run([sys.executable, "-m", "metasparse.cli", "train", "--dataset",
                          str(path), "--epochs", "1", "--json"], 120, "train")
    assert result.returncode == 2
    assert result.stdout == ""  # no training result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and found in lines[0], result.stderr
