"""The training loop, callbacks and checkpoints."""

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset, make_moons
from deepgrad.models import MLP
from deepgrad.train import Checkpoint, ConvergenceStop, EarlyStopping, evaluate, fit, load_checkpoint, save_checkpoint
from deepgrad.train.metrics import accuracy, confusion_matrix


def moons_loaders(n=400, batch=32, seed=0):
    x, y = make_moons(n, seed=seed)
    xt, yt = make_moons(200, seed=seed + 1)
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, seed=seed), DataLoader(
        TensorDataset(xt, yt), batch_size=100
    )


def test_metrics():
    assert accuracy(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 1, 1])) == pytest.approx(2 / 3)
    m = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 2]), num_classes=3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match="3 predictions but 2 targets"):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]))


def test_fit_lowers_loss_and_evaluate_reports_accuracy():
    dg.manual_seed(0)
    train, test = moons_loaders()
    model = MLP(2, [16, 16], 2)
    before = evaluate(model, test, nn.CrossEntropyLoss())
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        train,
        epochs=15,
        val_loader=test,
        quiet=True,
    )
    after = evaluate(model, test, nn.CrossEntropyLoss())
    assert history.epochs == 15 and set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert history["loss"][-1] < history["loss"][0] / 3
    assert after.loss < before.loss / 3 and after.accuracy > 0.95
    assert after.confusion.shape == (2, 2) and after.confusion.sum() == 200
    assert np.trace(after.confusion) == round(after.accuracy * 200)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, epochs=0)


def test_fit_switches_train_and_eval_modes():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = MLP(2, [4], 2)

        def forward(self, x):
            seen.append(self.training)
            return self.inner(x)

    train, test = moons_loaders(n=64, batch=32)
    model = Probe()
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        train,
        epochs=1,
        val_loader=test,
        quiet=True,
    )
    assert seen[:2] == [True, True] and seen[-1] is False  # training batches, then validation in eval mode
    assert model.training


def test_regression_has_no_accuracy():
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(-1, 1)
    loader = DataLoader(TensorDataset(x, np.sin(x)), batch_size=16)
    model = MLP(1, [8], 1, activation="tanh")
    history = fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), loader, epochs=3, quiet=True)
    assert "accuracy" not in history
    result = evaluate(model, loader, nn.MSELoss())
    assert result.accuracy is None and result.confusion is None and result.loss > 0


def test_early_stopping_stops_and_restores_best():
    class Fake:
        def __init__(self):
            self.value = 0
            self.loaded = None

        def state_dict(self):
            return {"w": dg.tensor([float(self.value)])}

        def load_state_dict(self, state):
            self.loaded = state

    class State:
        model = Fake()
        epoch = 0
        stop_training = False

    state = State()
    stopper = EarlyStopping("val_loss", patience=2)
    for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7, 0.4]):
        state.epoch, state.model.value = epoch, epoch
        stopper.on_epoch_end(state, {"val_loss": loss})
        if state.stop_training:
            break
    assert state.stop_training and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    stopper.on_train_end(state)
    assert state.model.loaded["w"].tolist() == [1.0]
    with pytest.raises(KeyError, match="val_loader"):
        EarlyStopping("val_loss").on_epoch_end(state, {"loss": 1.0})


def test_convergence_stop_reports_both_outcomes():
    class State:
        epoch = 0
        stop_training = False

    state = State()
    rule = ConvergenceStop(tol=0.01)
    for epoch, loss in enumerate([1.0, 0.5, 0.495]):
        state.epoch = epoch
        rule.on_epoch_end(state, {"loss": loss})
    assert rule.converged and state.stop_training and "converged after 3 iterations" in rule.report()
    rule2, state2 = ConvergenceStop(tol=0.01), State()
    for epoch, loss in enumerate([1.0, 0.5, 0.25]):
        state2.epoch = epoch
        rule2.on_epoch_end(state2, {"loss": loss})
    assert not rule2.converged and rule2.report().startswith("not converged in 3 iterations")


def _run(tmp_path, epochs, resume_from=None, checkpoint=None, stop_after=None):
    dg.manual_seed(42)
    x, y = make_moons(300, seed=3)
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=7)
    model = MLP(2, [16, 16], 2, dropout=0.2)  # dropout: the global RNG state matters too
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    start, history = 0, None
    if resume_from is not None:
        restored = load_checkpoint(resume_from, model, opt, sched, loader)
        start = restored["epoch"]
        from deepgrad.train.loop import History

        history = History(dict(restored["history"]))
    callbacks = [Checkpoint(checkpoint)] if checkpoint else []
    if stop_after is not None:

        class Interrupt(Checkpoint.__mro__[1]):
            def on_epoch_end(self, state, logs):
                if state.epoch + 1 == stop_after:
                    raise KeyboardInterrupt

        callbacks.append(Interrupt())
    try:
        fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            loader,
            epochs,
            scheduler=sched,
            callbacks=callbacks,
            quiet=True,
            start_epoch=start,
            history=history,
        )
    except KeyboardInterrupt:
        pass
    return model, opt


def test_resume_from_checkpoint_gives_identical_weights(tmp_path):
    full, _ = _run(tmp_path, epochs=6)
    path = tmp_path / "ckpt.safetensors"
    _run(tmp_path, epochs=6, checkpoint=path, stop_after=3)  # Ctrl-C after epoch 3's checkpoint
    assert load_checkpoint(path, MLP(2, [16, 16], 2, dropout=0.2))["epoch"] == 3
    resumed, opt = _run(tmp_path, epochs=6, resume_from=path)
    for (name, a), (_, b) in zip(full.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.array, b.array, err_msg=name)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5**3)


def test_interrupted_save_keeps_last_complete_checkpoint(tmp_path, monkeypatch):
    model = MLP(2, [4], 2)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model, epoch=1)
    good = path.read_bytes()
    import deepgrad.io as io_module

    original = io_module._set_default_mode

    def explode(p):
        raise KeyboardInterrupt

    monkeypatch.setattr(io_module, "_set_default_mode", explode)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, epoch=2)
    monkeypatch.setattr(io_module, "_set_default_mode", original)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]
    assert load_checkpoint(path, MLP(2, [4], 2))["epoch"] == 1


def test_checkpoint_errors_name_the_file(tmp_path):
    weights = tmp_path / "weights.safetensors"
    dg.io.save(MLP(2, [4], 2).state_dict(), weights)
    with pytest.raises(dg.errors.NotACheckpointError, match="weights.safetensors is not a deepgrad checkpoint"):
        load_checkpoint(weights, MLP(2, [4], 2))
    ckpt = tmp_path / "c.safetensors"
    save_checkpoint(ckpt, MLP(2, [4], 2))
    with pytest.raises(dg.errors.CheckpointError, match="c.safetensors: the checkpoint does not fit this model"):
        load_checkpoint(ckpt, MLP(2, [8], 2))


def test_early_stopping_state_survives_a_checkpoint(tmp_path):
    # Resuming must stop where the uninterrupted run stops: the stopper's best value, wait and weights are saved.
    model, path = MLP(2, [4], 2), tmp_path / "c.safetensors"
    stopper = EarlyStopping("val_loss", patience=3)

    class State:
        epoch, stop_training = 0, False

    state = State()
    state.model = model
    for epoch, loss in enumerate([1.0, 0.5, 0.7]):
        state.epoch = epoch
        stopper.on_epoch_end(state, {"val_loss": loss})
    save_checkpoint(path, model, epoch=3, callbacks=[stopper, ConvergenceStop(0.1)])
    fresh, rule = EarlyStopping("val_loss", patience=3), ConvergenceStop(0.1)
    load_checkpoint(path, MLP(2, [4], 2), callbacks=[fresh, rule])
    assert (fresh.best, fresh.best_epoch, fresh.wait, fresh.stopped_epoch) == (0.5, 1, 1, None)
    for key, value in stopper.best_state.items():
        np.testing.assert_array_equal(fresh.best_state[key], value)
    assert rule.previous is None and not rule.converged


def test_checkpoint_callback_saves_the_other_callbacks_states(tmp_path):
    train, val = moons_loaders(n=200)
    path = tmp_path / "c.safetensors"
    stopper = EarlyStopping("val_loss", patience=100)
    model = MLP(2, [8], 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(model, nn.CrossEntropyLoss(), opt, train, 3, val_loader=val, callbacks=[stopper, Checkpoint(path)], quiet=True)
    restored = EarlyStopping("val_loss", patience=100)
    load_checkpoint(path, MLP(2, [8], 2), callbacks=[restored])
    assert restored.best == stopper.best and restored.best_epoch == stopper.best_epoch


def test_resume_with_another_optimizer_or_loader_is_a_checkpoint_error(tmp_path):
    model, path = MLP(2, [4], 2), tmp_path / "c.safetensors"
    x, y = make_moons(64, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=0)
    save_checkpoint(path, model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9), train_loader=loader)
    other = MLP(2, [4], 2)
    with pytest.raises(dg.errors.CheckpointError, match="optimizer SGD, this run uses Adam"):
        load_checkpoint(path, other, optim.Adam(other.parameters()))
    smaller = DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8, shuffle=True, seed=0)
    with pytest.raises(dg.errors.CheckpointError, match="does not fit this data loader"):
        load_checkpoint(path, other, train_loader=smaller)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, MLP(2, [8, 8], 2))
    assert "\n" not in str(info.value)


def test_epoch_bar_ends_on_the_last_epochs_metrics(capsys):
    pytest.importorskip("tqdm")
    train, _ = moons_loaders(n=64)
    model = MLP(2, [8], 2)
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), train, 4, quiet=False)
    err = capsys.readouterr().err
    last_bar = [part for part in err.split("\r") if part.startswith("epochs")][-1]
    assert f"loss={history['loss'][-1]:.4g}" in last_bar


def test_progress_bars_show_running_metrics_when_enabled(capsys):
    pytest.importorskip("tqdm")
    from deepgrad.train.progress import Progress, want_progress

    assert want_progress(True) is False  # quiet wins
    bar = Progress(range(3), enabled=True, total=3, desc="epoch 1/1")
    for _ in bar:
        bar._last = 0.0  # allow a refresh every step
        bar.postfix(loss=0.25, acc=0.5)
    bar.close()
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "3/3" in err and "loss=0.25" in err and "acc=0.5" in err
    silent = Progress(range(3), enabled=False)
    assert list(silent) == [0, 1, 2]


def test_convergence_stop_reports_divergence_not_convergence():
    class State:
        epoch = 0
        stop_training = False

    state, rule = State(), ConvergenceStop(tol=0.01)
    for epoch, loss in enumerate([1.0, 0.5, 0.9]):
        state.epoch = epoch
        rule.on_epoch_end(state, {"loss": loss})
    assert state.stop_training and rule.diverged and not rule.converged
    assert rule.report().startswith("diverging: the loss went up from 0.5 to 0.9 at iteration 3")


# ---------------------------------------------------------------------------------------------- run(config)


def _moons_config(tmp_path, **outputs):
    from deepgrad.train import DataConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig

    return TrainConfig(
        ModelConfig("mlp", [16]),
        DataConfig("moons", val_split=0.2),
        OptimConfig(epochs=4, lr=0.1),
        OutputConfig(**{k: str(tmp_path / v) for k, v in outputs.items()}),
        seed=2,
    )


def test_run_from_python_prints_nothing_and_returns_the_results(tmp_path, capsys):
    import json

    from deepgrad.train import run

    config = _moons_config(tmp_path, save="w.safetensors", metrics_json="m.json", plots="plots")
    seen = []

    class Record(Checkpoint.__mro__[1]):  # a Callback: progress goes where the caller says
        def on_epoch_end(self, state, logs):
            seen.append((state.epoch, round(logs["loss"], 6)))

    result = run(config, callbacks=[Record()])
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    assert result.epochs_run == 4 and [epoch for epoch, _ in seen] == [0, 1, 2, 3]
    assert [loss for _, loss in seen] == [round(v, 6) for v in result.history["loss"]]
    assert set(result.history.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.spec.describe() == "mlp 2-16-2 (relu)" and result.spec.dataset == "moons"
    assert result.task == "classification" and result.loss_name == "cross-entropy"
    assert result.test.count == 500 and 0.8 < result.test.accuracy <= 1.0
    assert result.test.confusion.sum() == 500 and result.convergence is None and result.stopped_early is None
    assert result.saved == str(tmp_path / "w.safetensors")
    saved = dg.io.load(tmp_path / "w.safetensors")
    for name, value in result.model.state_dict().items():
        np.testing.assert_array_equal(saved[name].array, value.array)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["epochs_run"] == 4 and metrics["config"]["hidden"] == [16]
    assert metrics["test"]["accuracy"] == pytest.approx(result.test.accuracy)
    if result.plots_error is None:
        assert sorted(p.name for p in result.plots) == ["confusion_matrix.png", "decision_boundary.png", "history.png"]


def test_run_and_the_command_line_train_the_same_weights(tmp_path, monkeypatch, capsys):
    from deepgrad.cli import main
    from deepgrad.train import run

    monkeypatch.chdir(tmp_path)
    argv = ["train", "--dataset", "moons", "--hidden", "16", "--val-split", "0.2", "--epochs", "4", "--lr", "0.1"]
    assert main([*argv, "--seed", "2", "--save", "cli.safetensors", "--plots", "none", "--quiet"]) == 0
    assert "test accuracy" in capsys.readouterr().out
    result = run(_moons_config(tmp_path))
    cli = dg.io.load(tmp_path / "cli.safetensors")
    for name, value in result.model.state_dict().items():
        np.testing.assert_array_equal(cli[name].array, value.array)


def test_prepare_then_run_and_full_batch_convergence(capsys):
    from deepgrad.train import DataConfig, ModelConfig, OptimConfig, TrainConfig, prepare, run

    config = TrainConfig(
        ModelConfig("linear"), DataConfig("moons"), OptimConfig(epochs=500, batch_size="full", tol=0.01, momentum=0.0)
    )
    plan = prepare(config)
    assert plan.batch_size is None and plan.epochs == 500 and plan.lr == pytest.approx(0.1)
    assert len(plan.train_set) == 1000 and plan.val_set is None and plan.optimizer_name == "sgd"
    result = run(plan)
    assert result.convergence.startswith("converged after") and result.epochs_run < 500
    assert capsys.readouterr() == ("", "")


def test_run_early_stopping_reports_the_restored_epoch():
    from deepgrad.train import DataConfig, OptimConfig, TrainConfig, run

    result = run(TrainConfig(data=DataConfig("moons"), optim=OptimConfig(epochs=200, early_stopping=2), seed=1))
    stopped, best = result.stopped_early
    assert stopped == result.epochs_run < 200 and best == stopped - 2
    assert len(result.history["val_loss"]) == stopped  # val_split defaults to 0.1 with early stopping


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"model": {"name": "resnet9000"}}, "unknown model 'resnet9000'; choose one of: linear, mlp, lenet"),
        ({"data": {"dataset": "imagenet"}}, "unknown dataset 'imagenet'"),
        ({"optim": {"epochs": 0}}, "epochs must be positive, got 0"),
        ({"optim": {"batch_size": 0}}, "batch_size must be positive, got 0"),
        ({"optim": {"batch_size": "lots"}}, "batch_size must be a positive integer or 'full', got 'lots'"),
        (
            {"optim": {"tol": 1e-3}},
            "tol is the stopping rule of full-batch gradient descent: use it with batch_size='full'",
        ),
        ({"optim": {"lr": -1.0}}, "lr must be positive, got -1.0"),
        ({"optim": {"momentum": 1.5}}, "momentum must be in [0, 1), got 1.5"),
        ({"optim": {"optimizer": "adam", "momentum": 0.5}}, "momentum applies to optimizer=sgd, not adam"),
        ({"optim": {"loss": "mse"}}, "loss=mse is for regression"),
        (
            {"model": {"name": "lenet"}},
            "model=lenet needs an image dataset (mnist, fashion-mnist, cifar10), not spirals",
        ),
        ({"model": {"name": "linear", "hidden": [8]}}, "hidden does not apply to model=linear"),
        ({"model": {"hidden": [8, 0]}}, "hidden sizes must be positive integers, got [8, 0]"),
        ({"model": {"dropout": 1.0}}, "dropout must be in [0, 1), got 1.0"),
        ({"data": {"val_split": 1.5}}, "val_split must be between 0 and 1, got 1.5"),
        (
            {"data": {"dataset": "mnist", "data_dir": "/nonexistent/dir"}},
            "data_dir /nonexistent/dir: no such directory",
        ),
        ({"outputs": {"save": "/nonexistent/dir/w.safetensors"}}, "save /nonexistent/dir/w.safetensors: the directory"),
    ],
)
def test_run_config_errors_name_the_setting_not_a_flag(settings, message):
    from deepgrad.errors import ConfigError
    from deepgrad.train import DataConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig

    parts = {"model": ModelConfig, "data": DataConfig, "optim": OptimConfig, "outputs": OutputConfig}
    config = TrainConfig(**{key: parts[key](**values) for key, values in settings.items()})
    with pytest.raises(ConfigError) as info:
        dg.train.run(config)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value) and "--" not in str(info.value)


def test_evaluate_weights_and_model_summary_from_python(tmp_path, capsys):
    from deepgrad.errors import ConfigError
    from deepgrad.train import EvalConfig, ModelConfig, evaluate_weights, model_summary, run

    trained = run(_moons_config(tmp_path, save="w.safetensors"))
    result = evaluate_weights(EvalConfig(str(tmp_path / "w.safetensors")))  # model and seed come from the file
    assert result.spec == trained.spec and result.loss_name == "cross-entropy"
    assert result.test.accuracy == trained.test.accuracy and result.test.loss == pytest.approx(trained.test.loss)
    np.testing.assert_array_equal(result.test.confusion, trained.test.confusion)
    with pytest.raises(ConfigError, match="does not fit mlp 2-8-2"):
        evaluate_weights(EvalConfig(str(tmp_path / "w.safetensors"), model=ModelConfig(hidden=[8])))
    summary = model_summary(ModelConfig(), "mnist")
    assert summary.spec.describe() == "mlp 784-512-256-10 (relu)" and "535,818" in summary.table
    assert capsys.readouterr() == ("", "")
