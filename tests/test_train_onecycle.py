"""`--schedule onecycle`: OneCycleLR stepped after every batch by `fit`, built by the runner from the run's
epochs and batches, carried by checkpoints through `--resume`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.cli import main
from deepgrad.cli.parser import build_parser
from deepgrad.data import DataLoader, TensorDataset, make_moons
from deepgrad.models import MLP
from deepgrad.optim.lr_scheduler import OneCycleLR
from deepgrad.train import Callback, DataConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig, fit, run


class RecordingSGD(optim.SGD):
    """SGD that notes the lr and momentum of every step it takes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def step(self, closure=None):
        self.seen.append((self.param_groups[0]["lr"], self.param_groups[0]["momentum"]))
        return super().step(closure)


def _torch_trace(total_steps, max_lr):
    """(lr, momentum) of each of ``total_steps`` steps under torch's OneCycleLR with SGD."""
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=total_steps)
    trace = []
    for _ in range(total_steps):
        trace.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        scheduler.step()
    return trace


def test_fit_steps_a_per_step_scheduler_after_every_batch_as_torch():
    dg.manual_seed(0)
    x, y = make_moons(100, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)  # 7 batches
    model = MLP(2, [8], 2)
    opt = RecordingSGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=0.2, epochs=3, steps_per_epoch=len(loader))
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, 3, scheduler=scheduler, scheduler_interval="step")
    expected = _torch_trace(21, 0.2)
    assert np.allclose(opt.seen, expected, rtol=1e-12)
    assert history["lr"] == pytest.approx([expected[6][0], expected[13][0], expected[20][0]])  # each epoch's last
    assert scheduler.last_epoch == 21


def test_fit_refuses_an_unknown_scheduler_interval():
    x, y = make_moons(20, seed=0)
    model = MLP(2, [4], 2)
    with pytest.raises(ValueError, match="scheduler_interval must be 'epoch' or 'step', got 'batch'"):
        fit(
            model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), [(x, y)], 1, scheduler_interval="batch"
        )


def _config(tmp_path, epochs=3, **outputs):
    outputs = {key: str(tmp_path / value) for key, value in outputs.items()}
    return TrainConfig(
        ModelConfig("mlp", hidden=[16]),
        DataConfig("moons"),
        OptimConfig(optimizer="adam", lr=0.02, epochs=epochs, batch_size=50, schedule="onecycle"),
        OutputConfig(**outputs),
        seed=1,
    )


def test_run_with_onecycle_follows_the_schedule_over_all_batches(tmp_path):
    torch = pytest.importorskip("torch")
    result = run(_config(tmp_path, metrics_json="m.json"))
    steps = 20  # moons: 1000 training samples in batches of 50
    reference_opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1.0)
    reference = torch.optim.lr_scheduler.OneCycleLR(reference_opt, max_lr=0.02, epochs=3, steps_per_epoch=steps)
    lrs, betas = [], []
    for _ in range(3 * steps):
        lrs.append(reference_opt.param_groups[0]["lr"])
        betas.append(reference_opt.param_groups[0]["betas"][0])
        reference_opt.step()
        reference.step()
    last_of_each_epoch = [lrs[steps - 1], lrs[2 * steps - 1], lrs[3 * steps - 1]]
    assert result.history["lr"] == pytest.approx(last_of_each_epoch, rel=1e-12)
    assert json.loads((tmp_path / "m.json").read_text())["history"]["lr"] == pytest.approx(last_of_each_epoch)
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert 0.8 < result.test.accuracy <= 1.0


class StopAfter(Callback):
    """Interrupt training at the end of epoch ``epoch`` (before the checkpoint of that epoch is written)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state, logs):
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def test_resuming_an_interrupted_onecycle_run_gives_the_same_weights(tmp_path):
    full = run(_config(tmp_path, epochs=4))
    with pytest.raises(KeyboardInterrupt):
        run(_config(tmp_path, epochs=4, checkpoint="c.safetensors"), callbacks=[StopAfter(2)])  # epochs 1-2 saved
    resumed_config = _config(tmp_path, epochs=4, resume="c.safetensors")
    resumed = run(resumed_config)
    assert resumed.history["lr"] == full.history["lr"]
    for name, value in full.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name].array, value.array)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_command_line_onecycle_checkpoint_resume_and_a_resume_that_does_not_fit(in_tmp, capsys):
    common = ["train", "--dataset", "circles", "--schedule", "onecycle", "--lr", "0.2", "--plots", "none", "--quiet"]
    assert main(common + ["--epochs", "3", "--save", "full.safetensors", "--metrics-json", "full.json"]) == 0
    out = capsys.readouterr().out
    assert "sgd lr 0.2," in out  # the peak the user gave, not the warm-up's start
    assert main(common + ["--epochs", "3", "--checkpoint", "c.safetensors", "--save", "c-final.safetensors"]) == 0
    # the final checkpoint holds all 3 epochs; a mid-run one comes from an interrupted run below
    assert main(common + ["--epochs", "5", "--resume", "c.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "the checkpoint's onecycle schedule spans 96 steps, but --epochs 5 of 32 batches are 160" in err
    assert "resume with the --epochs and --batch-size it was started with" in err and len(err.splitlines()) == 1
    full, again = dg.io.load("full.safetensors"), dg.io.load("c-final.safetensors")
    for key in full:
        np.testing.assert_array_equal(full[key].array, again[key].array)
    lrs = json.loads((in_tmp / "full.json").read_text())["history"]["lr"]
    assert lrs[-1] == pytest.approx(0.2 / 25 / 1e4, rel=1e-3) and max(lrs) < 0.2  # annealed to lr/25e4


def test_command_line_resume_mid_cycle_matches_the_uninterrupted_run(in_tmp, capsys, monkeypatch):
    import deepgrad.train

    common = ["train", "--dataset", "circles", "--schedule", "onecycle", "--optimizer", "adam", "--plots", "none"]
    common += ["--quiet", "--epochs", "4"]
    assert main(common + ["--save", "full.safetensors"]) == 0
    real_run = deepgrad.train.run

    def interrupted_run(config, callbacks=(), progress=False):
        return real_run(config, [*callbacks, StopAfter(1)], progress)

    monkeypatch.setattr(deepgrad.train, "run", interrupted_run)
    assert main(common + ["--checkpoint", "c.safetensors"]) == 130
    monkeypatch.setattr(deepgrad.train, "run", real_run)
    assert main(common + ["--resume", "c.safetensors", "--save", "resumed.safetensors"]) == 0
    full, resumed = dg.io.load("full.safetensors"), dg.io.load("resumed.safetensors")
    for key in full:
        np.testing.assert_array_equal(full[key].array, resumed[key].array)


def test_help_and_bad_schedule_name(capsys):
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith("train"))
    text = train.format_help()
    assert "onecycle" in " ".join(text.split()) and "cosine" in text
    assert main(["train", "--schedule", "one-cycle", "--quiet", "--plots", "none"]) == 2
    err = capsys.readouterr().err
    assert "unknown schedule 'one-cycle'; choose one of: none, cosine, onecycle" in err
