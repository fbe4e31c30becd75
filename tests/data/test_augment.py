"""crop_flip: the standard CIFAR augmentation in torch, and the CIFAR networks trained with it
on CIFAR-10 files in the official format."""

from __future__ import annotations

import torch

import metasparse.train
from metasparse.data import crop_flip, load_dataset
from metasparse.optimize import load_scenario
from metasparse.train import fit


def test_each_image_is_a_window_of_its_padded_self_flipped_or_not():
    torch.manual_seed(0)
    images = torch.randn(64, 3, 6, 5)
    out = crop_flip(images.reshape(64, -1), (3, 6, 5), torch.Generator().manual_seed(1),
                    padding=2).reshape(64, 3, 6, 5)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    flips = 0
    for image, result in zip(padded, out, strict=True):
        windows = {(top, left, flip) for top in range(5) for left in range(5)
                   for flip in (False, True)
                   if torch.equal(result, (lambda w: w.flip(-1) if flip else w)(
                       image[:, top:top + 6, left:left + 5]))}
        assert windows, "not a window of the padded image"
        flips += all(flip for _, _, flip in windows)
    assert 16 < flips < 48  # about half are flipped
    # offsets cover the whole range: some crops show padding on each side
    assert (out[:, :, 0] == 0).all(dim=(1, 2)).any() and (out[:, :, -1] == 0).all(dim=(1, 2)).any()


def test_no_padding_and_no_flip_is_the_identity_on_unflipped_images():
    x = torch.arange(2 * 1 * 3 * 4, dtype=torch.float32).reshape(2, -1)
    out = crop_flip(x, (1, 3, 4), torch.Generator().manual_seed(0), padding=0)
    for row, result in zip(x.reshape(2, 1, 3, 4), out.reshape(2, 1, 3, 4), strict=True):
        assert torch.equal(result, row) or torch.equal(result, row.flip(-1))


def test_a_cifar_network_trains_on_cifar10_files_with_augmentation(data_dir, writers,
                                                                  monkeypatch):
    writers.cifar(data_dir / "cifar-10-batches-py", per_batch=6, n_test=10)
    data = load_dataset("cifar10")
    assert data.image_shape == (3, 32, 32)
    shapes = []

    def spy(x, image_shape, generator):  # the real augmentation, its calls recorded
        shapes.append(image_shape)
        return crop_flip(x, image_shape, generator)

    monkeypatch.setattr(metasparse.train, "crop_flip", spy)
    config = {"model": "resnet18", "density": 0.05, "batch_size": 12}
    runs = [fit(config, data, 1, seed=0, device="cpu").result for _ in range(2)]
    assert shapes == [(3, 32, 32)] * 4  # every step of both runs (24 images, batches of 12)
    assert runs[0].status == "success" and runs[0].density == runs[1].density
    assert runs[0].val_loss == runs[1].val_loss  # augmentation draws from the seeded stream


def test_the_shipped_cifar10_resnet18_scenario_is_valid_where_the_files_are(data_dir, writers):
    writers.cifar(data_dir / "cifar-10-batches-py", per_batch=6, n_test=10)
    scenario = load_scenario("cifar10-resnet18")
    assert scenario.fixed["model"] == "resnet18" and scenario.instances == ["cifar10"]
