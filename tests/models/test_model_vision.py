"""The CIFAR networks of the sparse-training literature: their standard sizes, and a few
training steps of each through the trainer on real 32x32 images (coil20)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from metasparse.data import dataset_from_arrays
from metasparse.models import build_model, sparsifiable_parameters
from metasparse.space import resolve_config
from metasparse.train import fit

COIL20 = Path(os.environ.get("METASPARSE_DATA_DIR") or
              Path(__file__).resolve().parents[3] / "shared" / "data") / "coil20.npz"

# The published parameter counts of the CIFAR-10 versions (kuangliu/pytorch-cifar's ResNets and
# VGG-16 with batch normalization; Zagoruyko & Komodakis' WRN-28-10)
PARAMETERS = {"resnet18": 11_173_962, "resnet50": 23_520_842, "vgg16": 14_728_266,
              "wrn28_10": 36_479_194}


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_the_cifar10_networks_have_their_published_sizes(name):
    with torch.device("meta"):  # sizes only: nothing is allocated
        model = build_model(resolve_config({"model": name}), 3072, 10, (3, 32, 32))
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[name]
    weights = sparsifiable_parameters(model)
    assert weights[0][1].dim() == 4 and weights[-1][0] == "classifier.weight"


def _coil20_sample(n: int) -> object:
    if not COIL20.is_file():
        pytest.skip("../shared/data not present: the coil20 tests need it (CI has it)")
    arrays = np.load(COIL20)
    keep = np.random.default_rng(0).permutation(len(arrays["y"]))[:n]
    return dataset_from_arrays("coil20", arrays["X"][keep], arrays["y"][keep],
                               image_shape=(1, 32, 32))


def _two_steps(name: str) -> None:
    data = _coil20_sample(40)  # 24 training images: two steps of 12
    steps = []
    trained = fit({"model": name, "density": 0.1, "batch_size": 12, "delta_t": 1,
                   "input_scaling": "minmax"}, data, 1, seed=0, device="cpu",
                  on_step=lambda step, topology, optimizer: steps.append(
                      [(la.active, la.target) for la in topology.layers]))
    assert trained.result.status == "success" and len(steps) == 2
    assert trained.result.topology_updates == 1  # step 1 (delta_t 1; the last step never)
    assert all(active == target for layers in steps for active, target in layers)
    assert trained.result.density == pytest.approx(0.1, abs=1e-4)


def test_resnet18_trains_sparsely_on_real_32x32_images():
    _two_steps("resnet18")


@pytest.mark.slow  # WRN-28-10 and ResNet-50 take minutes of CPU for a few steps
@pytest.mark.parametrize("name", ["resnet50", "vgg16", "wrn28_10"])
def test_the_larger_networks_train_sparsely_on_real_32x32_images(name):
    _two_steps(name)
