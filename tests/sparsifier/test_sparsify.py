"""metasparse.sparsify on models and loops that are not the project's own."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import metasparse
from metasparse.errors import ConfigError
from metasparse.space import get_preset


class AttentionNet(nn.Module):
    """A user's model: a convolution, self-attention over the 8x8 positions, a classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.attention = nn.MultiheadAttention(16, 2, batch_first=True)
        self.head = nn.Sequential(nn.Linear(16 * 64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x.view(-1, 1, 8, 8))).flatten(2).transpose(1, 2)
        h = h + self.attention(h, h, h, need_weights=False)[0]
        return self.head(h.flatten(1))


def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1400], order[1400:]
    return x[train], y[train], x[val], y[val]


def _check_exact(sparsifier: metasparse.Sparsifier) -> None:
    for layer in sparsifier.topology.layers:
        assert int((layer.weight != 0).sum()) <= layer.target == layer.active, layer.name
        assert torch.all(layer.weight[layer.mask == 0] == 0), layer.name


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def test_a_users_model_and_loop_learn_on_digits_at_the_exact_density():
    torch.manual_seed(0)
    x_train, y_train, x_val, y_val = _digits()
    model = AttentionNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x_train, y_train),
                                         batch_size=50, shuffle=True)
    epochs = 4
    sparsifier = metasparse.sparsify(model, optimizer, epochs * len(loader), preset="rigl",
                                     density=0.2, delta_t=10)
    assert [la.name for la in sparsifier.topology.layers] == [
        "conv.weight", "attention.in_proj_weight", "attention.out_proj.weight",
        "head.0.weight", "head.2.weight"]
    for _ in range(epochs):
        for xb, yb in loader:
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            sparsifier.step()
            optimizer.zero_grad()
            _check_exact(sparsifier)
    assert sparsifier.topology.stats.updates == 8  # steps 10..80 (t_end: 0.75 of 112 steps)
    assert sparsifier.density() == pytest.approx(0.2, abs=0.005)
    with torch.no_grad():
        accuracy = float((model(x_val).argmax(1) == y_val).float().mean())
    assert accuracy > 0.9


def _train(model: nn.Module, sparsifier, optimizer, steps: int, accumulate: int = 1,
           on_step=None) -> None:
    x_train, y_train, _, _ = _digits()
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for _ in range(accumulate):
            idx = torch.randint(len(x_train), (32,), generator=g)
            (nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]) / accumulate
             ).backward()
            sparsifier.step()  # between optimizer steps: counts nothing
        optimizer.step()
        optimizer.zero_grad()
        sparsifier.step()
        if on_step is not None:
            on_step()


def _update_steps(accumulate: int) -> list[tuple[int, bool]]:
    torch.manual_seed(0)
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sparsifier = metasparse.sparsify(model, optimizer, 40, preset="rigl", delta_t=5)
    seen, masks = [], [la.mask.clone() for la in sparsifier.topology.layers]

    def record() -> None:  # (step, whether connections moved) of each update
        now = [la.mask.clone() for la in sparsifier.topology.layers]
        moved = any(not torch.equal(a, b) for a, b in zip(masks, now, strict=True))
        if sparsifier.topology.stats.updates > len(seen):
            seen.append((sparsifier.steps, moved))
        else:
            assert not moved
        masks[:] = now

    _train(model, sparsifier, optimizer, 40, accumulate, record)
    assert sparsifier.steps == 40
    return seen


# RigL: an update every delta_t optimizer steps until t_end (0.75) of training; its zeta has
# decayed (cosine) to nothing at t_end, so the last update moves no connection
RIGL_UPDATES = [(5, True), (10, True), (15, True), (20, True), (25, True), (30, False)]


def test_rigl_moves_connections_at_its_update_steps_only():
    assert _update_steps(accumulate=1) == RIGL_UPDATES


def test_gradient_accumulation_counts_optimizer_steps_not_backward_passes():
    assert _update_steps(accumulate=3) == RIGL_UPDATES


def test_a_step_that_the_grad_scaler_skips_is_no_step():
    torch.manual_seed(0)
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    sparsifier = metasparse.sparsify(model, optimizer, 20, preset="set", steps_per_epoch=5)
    scaler = torch.amp.GradScaler("cpu")
    x, y = _digits()[:2]
    for scale in (1.0, float("inf"), 1.0):  # the second step's gradients are not finite
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = nn.functional.cross_entropy(model(x[:64]), y[:64]) * scale
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        sparsifier.step()
        _check_exact(sparsifier)
    assert sparsifier.steps == 2


def test_the_sparse_path_trains_a_users_mlp_with_the_optimizer_on_its_compressed_weights():
    torch.manual_seed(0)
    model = _mlp()
    dense_weights = {id(m.weight) for m in model if isinstance(m, nn.Linear)}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sparsifier = metasparse.sparsify(model, optimizer, 30, preset="rigl", delta_t=5,
                                     density=0.3, execution="sparse")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert {id(p) for p in params} == {id(p) for p in model.parameters()}
    assert not dense_weights & {id(p) for p in params}
    x, y, _, _ = _digits()
    before = float(nn.functional.cross_entropy(model(x), y).detach())
    _train(model, sparsifier, optimizer, 30)
    assert float(nn.functional.cross_entropy(model(x), y).detach()) < 0.5 * before
    assert sparsifier.topology.stats.updates == 4  # steps 5..20 (t_end 0.75 of 30)
    for layer in sparsifier.topology.layers:
        assert layer.linear.nnz == layer.target


def test_the_masks_follow_the_model_to_another_dtype():
    torch.manual_seed(0)
    model = _mlp()
    sparsifier = metasparse.sparsify(model, None, 10, preset="set", steps_per_epoch=1)
    model.double()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    sparsifier.attach(optimizer)
    x, y, _, _ = _digits()
    nn.functional.cross_entropy(model(x.double()), y).backward()
    optimizer.step()
    sparsifier.step()
    assert all(la.mask.dtype == torch.float64 for la in sparsifier.topology.layers)
    _check_exact(sparsifier)


def test_exclusions_by_type_reach_inside_the_module_and_by_name_match_patterns():
    model = AttentionNet()
    kept = metasparse.sparsify(model, None, 10, exclude_types=[nn.MultiheadAttention],
                               exclude_names=["head.2"])
    assert [la.name for la in kept.topology.layers] == ["conv.weight", "head.0.weight"]


@pytest.mark.parametrize(("model", "options", "message"), [
    (nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)), {}, "no layer to sparsify"),
    (_mlp(), {"exclude_types": [nn.Linear]}, "no layer to sparsify .* after the exclusions"),
    (_mlp(), {"exclude_names": ["classifier"]}, "'exclude_names' pattern 'classifier'"),
    (_mlp(), {"exclude_types": ["Linear"]}, "'exclude_types' parameter"),
    (_mlp(), {"grow_scor": "random"}, "Unknown parameter 'grow_scor'"),
    (_mlp(), {"preset": "rig"}, "The 'preset' parameter must be one of"),
    (_mlp(), {"density": 2.0}, "'density'"),
    (_mlp(), {"update_every": "epoch"}, "'steps_per_epoch' parameter must be given"),
    (nn.Sequential(nn.Linear(9, 18), nn.Unflatten(1, (2, 3, 3)), nn.Conv2d(2, 2, 3, groups=2)),
     {"execution": "sparse"}, "groups=1 .*\\(got groups=2.*use execution=masked"),
    (nn.Sequential(nn.Linear(9, 9), nn.Unflatten(1, (1, 3, 3)),
                   nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")),
     {"execution": "sparse"}, "padding_mode='reflect'\\): use execution=masked"),
    (AttentionNet(), {"execution": "sparse", "exclude_types": [nn.Conv2d]},
     "cannot run attention projections"),
    (nn.LSTM(4, 4, num_layers=2, batch_first=True), {"execution": "sparse"},
     "single-layer, unidirectional"),
    ("model", {}, "'model' parameter must be a torch.nn.Module"),
])
def test_bad_input_is_one_clear_error_before_the_model_changes(model, options, message):
    before = None if isinstance(model, str) else \
        {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match=message):
        metasparse.sparsify(model, None, 10, **options)
    if before is not None:
        after = model.state_dict()
        assert after.keys() == before.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("execution", ["masked", "sparse"])
def test_an_optimizer_of_another_model_is_refused_before_the_model_changes(execution):
    # once accepted: on the sparse path the model then never trained
    model, other = _mlp(), _mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ConfigError, match=r"must hold the sparsified weights of the model; "
                                          r"it lacks 2 of 2 \("):
        metasparse.sparsify(model, torch.optim.SGD(other.parameters(), lr=0.1), 10,
                            execution=execution)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    sparsifier = metasparse.sparsify(model, None, 10, execution=execution)  # attached later
    with pytest.raises(ConfigError, match="must hold the sparsified weights"):
        sparsifier.attach(torch.optim.SGD(other.parameters(), lr=0.1))
    sparsifier.attach(torch.optim.SGD(model.parameters(), lr=0.1))  # its own: compressed ones


def test_total_steps_must_be_a_positive_integer_given_by_position_or_keyword():
    with pytest.raises(ConfigError, match="The 'total_steps' parameter must be a positive"):
        metasparse.sparsify(_mlp(), None, 0)
    # the natural keyword call was a TypeError (total_steps was positional-only)
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert metasparse.sparsify(model, optimizer, total_steps=50, density=0.1).steps == 0


def test_step_without_an_optimizer_says_what_to_do():
    sparsifier = metasparse.sparsify(_mlp(), None, 10)
    with pytest.raises(RuntimeError, match="attach"):
        sparsifier.step()


def test_a_full_configuration_with_the_trainers_own_keys_is_taken_as_it_is():
    config = get_preset("rigl")
    assert {"model", "optimizer", "lr"} <= set(config)
    sparsifier = metasparse.sparsify(_mlp(), None, 10, **config)
    assert sparsifier.config["grow_score"] == "gradient"


@pytest.mark.parametrize("execution", ["masked", "sparse"])
def test_lr_scaling_comes_through_the_sparsifiers_parameter_groups(execution):
    model = _mlp()
    with pytest.raises(ConfigError, match=r"sparsifier\.param_groups\(lr\)"):
        metasparse.sparsify(model, torch.optim.SGD(model.parameters(), lr=0.1), 10,
                            lr_scaling="density", density=0.25, execution=execution)
    sparsifier = metasparse.sparsify(model, None, 10, lr_scaling="density", density=0.25,
                                     distribution="uniform", execution=execution)
    optimizer = torch.optim.SGD(sparsifier.param_groups(0.1), lr=0.1)
    sparsifier.attach(optimizer)
    lrs = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    weights = {id(layer.linear.values if execution == "sparse" else layer.weight): layer
               for layer in sparsifier.topology.layers}
    for key, layer in weights.items():
        assert lrs[key] == pytest.approx(0.1 * layer.size / layer.target)
    rest = [p for p in model.parameters() if id(p) not in weights]
    assert len(rest) == 2 and all(lrs[id(p)] == 0.1 for p in rest)  # the biases


@pytest.mark.parametrize("execution", ["masked", "sparse"])
def test_the_trainer_closes_its_sparsifier_when_report_raises(monkeypatch, execution):
    """A report that raises (a pruner's stop signal) ends fit, which still closes its sparsifier:
    no capture hook stays on the model, and the optimizer's steps are no longer followed."""
    from metasparse.sparsifier import Sparsifier
    from metasparse.train import fit

    made: list[Sparsifier] = []
    build = Sparsifier.__init__

    def keep(self, *args, **kwargs) -> None:
        build(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Sparsifier, "__init__", keep)

    class Stop(Exception):
        pass

    def report(epoch: int, metrics: dict) -> None:
        raise Stop

    # cosine growth at every step: the step after the first epoch captures activations
    config = {**get_preset("ctre"), "hidden_sizes": "16", "update_every": "steps", "delta_t": 1,
              "execution": execution}
    with pytest.raises(Stop):
        fit(config, "digits", 2, report=report, device="cpu")
    (sparsifier,) = made
    layers = sparsifier.topology.layers
    for layer in layers:  # the validation pass ran while the next step's capture was armed
        layer.activations = None
    sparsifier.model(torch.randn(4, 64))
    assert all(layer.activations is None for layer in layers)
    steps = sparsifier.steps
    sparsifier.optimizer.step()
    sparsifier.step()
    assert sparsifier.steps == steps
