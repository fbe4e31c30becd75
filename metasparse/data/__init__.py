"""Datasets: a name in, train/validation/test tensors plus meta-features out.

    from metasparse.data import load_dataset, scale_inputs
    dataset = scale_inputs(load_dataset("coil20", split_seed=0), "standard")

Names come from scikit-learn's bundled datasets, NAME.npz files (arrays X and y) in the data
directory ($METASPARSE_DATA_DIR, else ~/.cache/metasparse/data), the MNIST/Fashion-MNIST IDX
files and CIFAR-10/100 python files there, OpenML (`openml:<id>`), or a path to a
CSV/Parquet/npz file.
"""

from metasparse._lazy import lazy_exports
from metasparse.data._paths import ENV_VAR as DATA_DIR_ENV_VAR
from metasparse.data._paths import resolve_data_dir

__getattr__ = lazy_exports(__name__, {
    "_augment": ["crop_flip"],
    "_dataset": ["Dataset"],
    "_load": ["check_datasets", "dataset_from_arrays", "load_dataset"],
    "_read": ["clear_cache"],
    "_registry": ["available_datasets", "check_name"],
    "_scale": ["SCALING_METHODS", "scale_inputs"],
})

__all__ = [
    "DATA_DIR_ENV_VAR",
    "SCALING_METHODS",
    "Dataset",
    "available_datasets",
    "check_datasets",
    "check_name",
    "clear_cache",
    "crop_flip",
    "dataset_from_arrays",
    "load_dataset",
    "resolve_data_dir",
    "scale_inputs",
]
