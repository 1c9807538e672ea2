"""The `deepgrad train / eval / summary` commands."""

import json
import subprocess
import sys

import numpy as np
import pytest
from mnist_helpers import mnist_dir

import deepgrad as dg
from deepgrad.cli import main


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _accuracy(text):
    line = next(line for line in text.splitlines() if line.startswith("test accuracy:"))
    return float(line.split()[2].rstrip("%"))


def test_default_train_needs_no_options(in_tmp, capsys):
    pytest.importorskip("matplotlib")
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "spirals" in out and _accuracy(out) > 90.0
    for name in ("history.png", "decision_boundary.png", "confusion_matrix.png"):
        assert (in_tmp / "runs" / "spirals-mlp" / name).stat().st_size > 1000


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--model", "resnet9000"], "unknown model 'resnet9000'"),
        (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
        (
            ["train", "--dataset", "mnist", "--data-dir", "/nonexistent/dir"],
            "--data-dir /nonexistent/dir: no such directory",
        ),
        (["train", "--epochs", "0"], "--epochs must be positive"),
        (["train", "--batch-size", "0"], "--batch-size must be positive"),
        (["train", "--batch-size", "lots"], "--batch-size must be a positive integer or 'full'"),
        (["train", "--lr", "-1"], "--lr must be positive"),
        (["train", "--momentum", "1.5"], "--momentum must be in [0, 1)"),
        (["train", "--hidden", "64,x"], "--hidden expects sizes"),
        (["train", "--loss", "mse"], "--loss mse is for regression"),
        (["train", "--tol", "0.001"], "use it with --batch-size full"),
        (["summary", "--model", "transformer"], "unknown model"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(in_tmp, capsys, argv, message):
    assert main(argv + ["--quiet"] if argv[0] == "train" else argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_mnist_says_where_it_looked(in_tmp, capsys, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_DATA", str(in_tmp / "nothing-here"))
    assert main(["train", "--dataset", "mnist", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "nothing-here" in err and "--data-dir" in err and "DEEPGRAD_DATA" in err


def test_save_eval_and_wrong_architecture(in_tmp, capsys):
    assert (
        main(["train", "--dataset", "moons", "--epochs", "5", "--save", "m.safetensors", "--plots", "none", "--quiet"])
        == 0
    )
    trained = _accuracy(capsys.readouterr().out)
    assert main(["eval", "--weights", "m.safetensors"]) == 0  # architecture and dataset come from the file
    out = capsys.readouterr().out
    assert f"accuracy: {trained:.2f}%" in out and "confusion matrix" in out
    assert main(["eval", "--weights", "m.safetensors", "--hidden", "8"]) == 2
    err = capsys.readouterr().err
    assert "does not fit mlp 2-8-2" in err and len(err.strip().splitlines()) == 1
    assert main(["eval", "--weights", "missing.safetensors"]) == 2
    assert "missing.safetensors" in capsys.readouterr().err


def test_metrics_json_and_validation_split(in_tmp, capsys):
    argv = [
        "train",
        "--dataset",
        "xor",
        "--epochs",
        "4",
        "--val-split",
        "0.2",
        "--metrics-json",
        "m.json",
        "--plots",
        "none",
        "--quiet",
    ]
    assert main(argv) == 0
    report = json.loads((in_tmp / "m.json").read_text())
    assert report["epochs_run"] == 4 and len(report["history"]["val_loss"]) == 4
    assert report["config"]["hidden"] == [16, 16] and 0.5 < report["test"]["accuracy"] <= 1.0
    assert np.array(report["test"]["confusion_matrix"]).sum() == report["test"]["count"]


def test_full_batch_gradient_descent_with_tolerance(in_tmp, capsys):
    base = [
        "train",
        "--dataset",
        "moons",
        "--batch-size",
        "full",
        "--plots",
        "none",
        "--quiet",
        "--optimizer",
        "sgd",
        "--momentum",
        "0",
    ]
    assert main(base + ["--epochs", "5", "--tol", "1e-12"]) == 0
    assert "not converged in 5 iterations" in capsys.readouterr().out
    assert main(base + ["--epochs", "500", "--tol", "0.01"]) == 0
    assert "converged after" in capsys.readouterr().out


def test_checkpoint_and_resume(in_tmp, capsys):
    common = ["train", "--dataset", "circles", "--plots", "none", "--quiet", "--seed", "3"]
    assert main(common + ["--epochs", "4", "--save", "full.safetensors"]) == 0
    assert main(common + ["--epochs", "2", "--checkpoint", "c.safetensors"]) == 0
    assert main(common + ["--epochs", "4", "--resume", "c.safetensors", "--save", "resumed.safetensors"]) == 0
    full, resumed = dg.io.load("full.safetensors"), dg.io.load("resumed.safetensors")
    for key in full:
        np.testing.assert_array_equal(full[key].array, resumed[key].array)


def test_early_stopping_option(in_tmp, capsys):
    assert (
        main(["train", "--dataset", "moons", "--epochs", "200", "--early-stopping", "3", "--plots", "none", "--quiet"])
        == 0
    )
    out = capsys.readouterr().out
    assert "early stopping after epoch" in out


def test_sine_regression_with_l1_loss(in_tmp, capsys):
    assert main(["train", "--dataset", "sine", "--loss", "l1", "--epochs", "20", "--plots", "none", "--quiet"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("test l1"))
    assert float(line.split()[2]) < 0.3


def test_summary_prints_parameter_count(capsys):
    assert main(["summary", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "535,818" in out or "535818" in out  # 784*512+512 + 512*256+256 + 256*10+10


def test_console_script_runs_in_a_subprocess(in_tmp):
    ok = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "train", "--dataset", "xor", "--epochs", "2", "--plots", "none"],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "test accuracy" in ok.stdout and "epoch 2/2" in ok.stdout  # per-epoch lines when not a terminal
    bad = subprocess.run(
        [sys.executable, "-m", "deepgrad.cli", "train", "--dataset", "nope"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "unknown dataset" in bad.stderr


def test_mnist_short_run_on_a_subset():
    root = mnist_dir()
    if root is None:
        pytest.skip("MNIST not found (set DEEPGRAD_MNIST)")
    from deepgrad import nn, optim
    from deepgrad.data import MNIST, DataLoader, Subset
    from deepgrad.models import MLP
    from deepgrad.train import evaluate, fit

    dg.manual_seed(0)
    train = Subset(MNIST(root, train=True, flatten=True), range(6000))
    test = Subset(MNIST(root, train=False, flatten=True), range(2000))
    model = MLP(784, [128], 10)
    fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        DataLoader(train, 64, shuffle=True, seed=0),
        2,
        quiet=True,
    )
    result = evaluate(model, DataLoader(test, 500), nn.CrossEntropyLoss())
    assert result.accuracy > 0.85  # chance is 0.10


def test_download_option_fetches_verifies_and_trains(in_tmp, capsys, monkeypatch):
    """--download against a local mirror serving the real files (never the internet)."""
    import functools
    import http.server
    import threading

    root = mnist_dir()
    if root is None:
        pytest.skip("MNIST not found (set DEEPGRAD_MNIST)")
    from deepgrad.data import MNIST

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(MNIST, "mirrors", (f"http://127.0.0.1:{server.server_address[1]}/",))
        argv = [
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            "cache",
            "--model",
            "linear",
            "--epochs",
            "1",
            "--plots",
            "none",
        ]
        assert main([*argv, "--quiet"]) == 2
        assert "--data-dir cache: no such directory" in capsys.readouterr().err
        (in_tmp / "cache").mkdir()
        assert main([*argv, "--quiet"]) == 2  # without --download: missing files, one line
        assert "deepgrad train --download" in capsys.readouterr().err
        assert main([*argv, "--quiet", "--download"]) == 0
    finally:
        server.shutdown()
    assert _accuracy(capsys.readouterr().out) > 85.0
    assert sorted(p.name for p in (in_tmp / "cache" / "mnist").iterdir()) == sorted(
        p.name for p in root.iterdir() if p.name.endswith(".gz")
    )


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--save", "no/such/dir/w.safetensors"], "--save no/such/dir/w.safetensors: the directory no/such/dir"),
        (["--checkpoint", "."], "--checkpoint .: is a directory"),
        (["--metrics-json", "no/such/dir/m.json"], "--metrics-json no/such/dir/m.json: the directory"),
        (["--plots", "a-file"], "--plots a-file: exists and is not a directory"),
    ],
)
def test_unwritable_outputs_fail_before_training(in_tmp, capsys, extra, message):
    (in_tmp / "a-file").write_text("not a directory")
    assert main(["train", "--quiet"] + extra) == 2
    captured = capsys.readouterr()
    assert "training" not in captured.out  # nothing was trained only to be lost
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_resume_that_does_not_fit_is_one_line_and_exit_status_2(in_tmp, capsys):
    common = ["train", "--plots", "none", "--quiet"]
    assert main(common + ["--epochs", "2", "--val-split", "0.2", "--checkpoint", "c.safetensors"]) == 0
    capsys.readouterr()
    for extra, message in [
        (["--val-split", "0.3"], "does not fit this data loader"),
        ([], "does not fit this data loader"),
        (["--val-split", "0.2", "--hidden", "8"], "does not fit this model"),
        (["--val-split", "0.2", "--optimizer", "adam"], "optimizer SGD, this run uses Adam"),
    ]:
        assert main(common + ["--epochs", "4", "--resume", "c.safetensors"] + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # issue 9: a checkpoint's model evaluates like the weights it holds (it used to be refused)
    assert main(["eval", "--weights", "c.safetensors"]) == 0
    assert "accuracy:" in capsys.readouterr().out


def test_resume_with_early_stopping_matches_the_uninterrupted_run(in_tmp, capsys):
    common = ["train", "--dataset", "circles", "--early-stopping", "3", "--plots", "none", "--quiet", "--seed", "1"]
    assert main(common + ["--epochs", "200", "--save", "full.safetensors"]) == 0
    full_out = capsys.readouterr().out
    assert "early stopping after epoch" in full_out
    stopped_at = int(full_out.split("early stopping after epoch ")[1].split(";")[0])
    assert stopped_at > 12
    assert main(common + ["--epochs", "10", "--checkpoint", "c.safetensors"]) == 0
    assert main(common + ["--epochs", "200", "--resume", "c.safetensors", "--checkpoint", "c.safetensors"]) == 0
    assert f"early stopping after epoch {stopped_at};" in capsys.readouterr().out
    assert main(common + ["--epochs", "200", "--resume", "c.safetensors", "--save", "resumed.safetensors"]) == 2
    assert "already stopped early" in capsys.readouterr().err
    # The run finished (and restored its best weights) in the second command; compare that with the first.
    assert main(common + ["--epochs", "10", "--checkpoint", "d.safetensors"]) == 0
    assert main(common + ["--epochs", "200", "--resume", "d.safetensors", "--save", "resumed.safetensors"]) == 0
    full, resumed = dg.io.load("full.safetensors"), dg.io.load("resumed.safetensors")
    for key in full:
        np.testing.assert_array_equal(full[key].array, resumed[key].array)


def test_metrics_json_is_readable_by_others(in_tmp):
    import os
    import stat

    assert main(["train", "--epochs", "1", "--quiet", "--plots", "none", "--metrics-json", "m.json"]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat("m.json").st_mode) == 0o666 & ~umask


def test_ctrl_c_points_at_the_checkpoint(in_tmp, capsys, monkeypatch):
    import deepgrad.train.runner

    assert main(["train", "--epochs", "1", "--quiet", "--plots", "none", "--checkpoint", "c.safetensors"]) == 0
    capsys.readouterr()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(deepgrad.train.runner, "fit", interrupted)
    assert main(["train", "--epochs", "3", "--quiet", "--plots", "none", "--checkpoint", "c.safetensors"]) == 130
    assert "interrupted; continue with --resume c.safetensors" in capsys.readouterr().err


@pytest.mark.skipif(mnist_dir() is None, reason="real MNIST not found")
def test_fashion_mnist_refuses_a_directory_of_mnist_files(in_tmp, capsys):
    argv = ["train", "--dataset", "fashion-mnist", "--data-dir", str(mnist_dir()), "--epochs", "1", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "these are the MNIST files, not FashionMNIST" in err and len(err.strip().splitlines()) == 1


def test_eval_uses_the_training_seed_for_toy_test_sets(in_tmp, capsys):
    assert (
        main(
            [
                "train",
                "--dataset",
                "moons",
                "--epochs",
                "3",
                "--seed",
                "5",
                "--save",
                "m.safetensors",
                "--plots",
                "none",
                "--quiet",
            ]
        )
        == 0
    )
    trained = _accuracy(capsys.readouterr().out)
    assert main(["eval", "--weights", "m.safetensors"]) == 0
    assert f"accuracy: {trained:.2f}%" in capsys.readouterr().out


def test_explain_accepts_an_expression_starting_with_minus(capsys):
    assert main(["explain", "-x**2", "--at", "x=3"]) == 0
    out = capsys.readouterr().out
    assert "f = -9.00" in out and "gradient (df/dx) = (-6.00)" in out
    assert main(["explain", "--at", "x=3", "-x*2"]) == 0
    assert "gradient (df/dx) = (-2.00)" in capsys.readouterr().out


def test_full_batch_divergence_is_reported(in_tmp, capsys):
    argv = ["train", "--dataset", "moons", "--batch-size", "full", "--tol", "1e-9", "--epochs", "50", "--lr", "50"]
    assert main([*argv, "--momentum", "0", "--plots", "none", "--quiet"]) == 0
    assert "diverging: the loss went up" in capsys.readouterr().out


def test_exploding_loss_is_a_one_line_error(in_tmp, capsys):
    assert main(["train", "--dataset", "spirals", "--epochs", "5", "--lr", "1e6", "--plots", "none", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the training loss became" in err and "lower the learning rate" in err
    assert len(err.strip().splitlines()) == 1


def test_lenet_option(in_tmp, capsys):
    assert main(["summary", "--model", "lenet", "--dataset", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "lenet5 (relu)" in out and "61,706" in out and "(1, 6, 28, 28)" in out
    assert main(["train", "--model", "lenet", "--quiet"]) == 2
    assert "--model lenet needs an image dataset" in capsys.readouterr().err
    assert main(["train", "--model", "lenet", "--dataset", "mnist", "--hidden", "64", "--quiet"]) == 2
    assert "--hidden does not apply to --model lenet" in capsys.readouterr().err
    assert main(["summary", "--model", "lenet", "--dataset", "mnist", "--activation", "gelu"]) == 2
    assert "activation must be one of relu, tanh" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_asking_for_a_report(in_tmp, capsys, monkeypatch):
    import deepgrad.train.runner

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsomewhere deep")

    monkeypatch.setattr(deepgrad.train.runner, "fit", broken)
    monkeypatch.delenv("DEEPGRAD_TRACEBACK", raising=False)
    assert main(["train", "--epochs", "1", "--quiet", "--plots", "none"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("deepgrad train: internal error: ZeroDivisionError: division by zero somewhere deep")
    assert "please report" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    monkeypatch.setenv("DEEPGRAD_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        main(["train", "--epochs", "1", "--quiet", "--plots", "none"])


def test_library_errors_get_the_flags_on_the_command_line():
    from deepgrad.cli.errors import user_message
    from deepgrad.errors import ConfigError, NotACheckpointError, WeightFileError

    error = ConfigError("`tol` is the stopping rule of full-batch gradient descent: use it with `batch_size='full'`")
    assert str(error) == "tol is the stopping rule of full-batch gradient descent: use it with batch_size='full'"
    assert user_message(error) == (
        "--tol is the stopping rule of full-batch gradient descent: use it with --batch-size full"
    )
    assert user_message(ConfigError("`metrics_json` m.json: no")) == "--metrics-json m.json: no"
    assert "use it with --weights" in user_message(NotACheckpointError("w.safetensors"))
    assert "--" not in str(NotACheckpointError("w.safetensors"))
    assert user_message(WeightFileError("a\nb")) == "a b"  # always one line
    assert user_message(KeyError("a bug")) is None


def test_python_dash_m_deepgrad_runs_the_command(in_tmp):
    done = subprocess.run([sys.executable, "-m", "deepgrad", "summary"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mlp 2-64-64-3 (relu) for spirals")


# ---------------------------------------------------------------------------------------------- issue 9: hardening


@pytest.fixture
def open_tmp():
    """A directory an unprivileged user may enter, with ``ro/`` in it that nobody but root may write."""
    from cli_helpers import remove, shared_tmp

    directory = shared_tmp()
    (directory / "ro").mkdir()
    (directory / "ro").chmod(0o555)
    yield directory
    remove(directory)


def _one_line_error(err):
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--save", "ro/w.safetensors"], "--save ro/w.safetensors: cannot write in ro: Permission denied"),
        (["--checkpoint", "ro/c.safetensors"], "--checkpoint ro/c.safetensors: cannot write in ro: Permission denied"),
        (["--metrics-json", "ro/m.json"], "--metrics-json ro/m.json: cannot write in ro: Permission denied"),
        (["--plots", "ro"], "--plots ro: cannot write in ro: Permission denied"),
        (["--plots", "ro/new/plots"], "--plots ro/new/plots: cannot write in ro: Permission denied"),
    ],
)
def test_outputs_without_write_permission_fail_before_training(open_tmp, extra, message):
    from cli_helpers import run_unprivileged

    argv = ["train", "--dataset", "moons", "--epochs", "1", "--quiet", "--plots", "none", *extra]
    done = run_unprivileged(argv, open_tmp)
    assert done.returncode == 2, done.stderr
    assert "training" not in done.stdout and message in done.stderr and _one_line_error(done.stderr)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--save", "/proc/w.safetensors"], "--save /proc/w.safetensors: cannot write in /proc"),
        (["--metrics-json", "/sys/m.json"], "--metrics-json /sys/m.json: cannot write in /sys"),
        (["--plots", "/proc/plots"], "--plots /proc/plots: cannot write in /proc"),
        (["--save", "/dev/full"], "--save /dev/full: exists and is not a regular file"),
        (["--save", "w.safetensors", "--checkpoint", "./w.safetensors"], "--save and --checkpoint are the same file"),
        (["--save", "m.json", "--metrics-json", "m.json"], "--save and --metrics-json are the same file"),
    ],
)
def test_outputs_that_cannot_be_written_anywhere_fail_before_training(in_tmp, capsys, extra, message):
    assert main(["train", "--dataset", "moons", "--epochs", "1", "--quiet", "--plots", "none", *extra]) == 2
    out, err = capsys.readouterr()
    assert "training" not in out and message in err and _one_line_error(err)


def _disk_full_for(monkeypatch, module, function, victim):
    """Make ``module.function(..., path, ...)`` fail as on a full disk when it writes ``victim``."""
    import errno

    real = getattr(module, function)

    def write(*args, **kwargs):
        if any(str(a) == victim for a in args):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, function, write)


def test_save_failing_at_the_end_keeps_the_weights_in_a_file_it_names(in_tmp, capsys, monkeypatch):
    from deepgrad.train import runner

    argv = ["train", "--dataset", "moons", "--epochs", "2", "--quiet", "--plots", "none", "--save", "w.safetensors"]
    with monkeypatch.context() as patch:
        _disk_full_for(patch, runner.io, "save", "w.safetensors")
        assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "test accuracy:" in out  # the run's results are still shown
    assert "cannot write --save w.safetensors: No space left on device" in err and _one_line_error(err)
    rescued = err.split("were written to ")[1].split(" instead")[0]
    weights = dg.io.load(rescued)
    assert list(weights) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert main(["eval", "--weights", rescued]) == 0  # the rescued file is a complete weights file
    assert f"accuracy: {_accuracy(out):.2f}%" in capsys.readouterr().out


def test_save_failing_at_the_end_points_at_the_checkpoint(in_tmp, capsys, monkeypatch):
    from deepgrad.train import runner

    common = ["train", "--dataset", "moons", "--epochs", "2", "--quiet", "--plots", "none"]
    with monkeypatch.context() as patch:
        _disk_full_for(patch, runner.io, "save", "w.safetensors")
        assert main(common + ["--save", "w.safetensors", "--checkpoint", "c.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "the trained weights are in the checkpoint c.safetensors: write them with --resume c.safetensors" in err
    assert main(common + ["--resume", "c.safetensors", "--save", "w.safetensors"]) == 0
    assert "nothing left to train" in capsys.readouterr().out
    assert main(common + ["--save", "full.safetensors"]) == 0
    full, resumed = dg.io.load("full.safetensors"), dg.io.load("w.safetensors")
    for key in full:
        np.testing.assert_array_equal(full[key].array, resumed[key].array)


def test_metrics_and_checkpoint_failures_are_one_line(in_tmp, capsys, monkeypatch):
    from deepgrad.train import checkpoint, runner

    common = ["train", "--dataset", "moons", "--epochs", "3", "--quiet", "--plots", "none"]
    with monkeypatch.context() as patch:
        _disk_full_for(patch, runner, "_write_json", "m.json")
        assert main(common + ["--metrics-json", "m.json"]) == 2
    err = capsys.readouterr().err
    assert "cannot write --metrics-json m.json: No space left on device" in err and _one_line_error(err)
    calls = []
    real = checkpoint.save_checkpoint

    def full_after_one_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_checkpoint", full_after_one_epoch)
    assert main(common + ["--checkpoint", "c.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "training stopped after epoch 2: cannot write --checkpoint c.safetensors: No space left on device" in err
    assert "continue from it with --resume c.safetensors" in err and _one_line_error(err)


def _rewrite(path, **metadata):
    """Rewrite a weights file's metadata entries (JSON-encoded unless already text)."""
    tensors = dg.io.read_tensors(path)
    saved = dg.io.load_metadata(path)
    saved.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    dg.io.save(tensors, path, metadata=saved)


MODEL = {"model": "mlp", "dataset": "moons", "in_features": 2, "out_features": 2, "hidden": [16, 16]}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"activation": 5}, "field 'activation' must be a string, got 5"),
        ({"model": ["mlp"]}, "field 'model' must be a string"),
        ({"dataset": None}, "field 'dataset' must be a string, got None"),
        ({"model": "resnet"}, "field 'model' of the model settings names an unknown model 'resnet'"),
        ({"dataset": "imagenet"}, "field 'dataset' names an unknown dataset 'imagenet'"),
        ({"hidden": 16}, "field 'hidden' must be a list of positive integers, got 16"),
        ({"hidden": "16"}, "field 'hidden' must be a list of positive integers"),
        ({"hidden": [0]}, "field 'hidden' must be a list of positive integers, got [0]"),
        ({"hidden": [True]}, "field 'hidden' must be a list of positive integers"),
        ({"hidden": [10**9, 10**9]}, "field 'hidden' of the model settings, [1000000000, 1000000000], makes a model"),
        ({"dropout": 1.5}, "field 'dropout' must be a number in [0, 1), got 1.5"),
        ({"dropout": "0.1"}, "field 'dropout' must be a number in [0, 1)"),
    ],
)
def test_weight_file_metadata_is_checked_field_by_field(in_tmp, capsys, change, message):
    argv = ["train", "--dataset", "moons", "--epochs", "1", "--plots", "none", "--quiet", "--save", "w.safetensors"]
    assert main(argv) == 0
    capsys.readouterr()
    _rewrite("w.safetensors", **{"deepgrad.model": {**MODEL, **change}})
    assert main(["eval", "--weights", "w.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "w.safetensors" in err and message in err and _one_line_error(err)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"deepgrad.model": "[" * 100_000 + "]" * 100_000}, "the model settings (deepgrad.model): the JSON nests"),
        ({"deepgrad.model": "[[[[" * 20 + "]]]]" * 20}, "the JSON nests more than 64 levels deep"),
        ({"deepgrad.model": "{not json"}, "not valid JSON"),
        ({"deepgrad.model": "[1, 2]"}, "must be a JSON object, got [1, 2]"),
        ({"deepgrad.seed": "-3"}, "the recorded seed (deepgrad.seed) is not a non-negative integer"),
        ({"deepgrad.seed": "x"}, "the recorded seed (deepgrad.seed) is not a non-negative integer"),
    ],
)
def test_weight_file_metadata_that_is_not_well_formed(in_tmp, capsys, metadata, message):
    argv = ["train", "--dataset", "moons", "--epochs", "1", "--plots", "none", "--quiet", "--save", "w.safetensors"]
    assert main(argv) == 0
    capsys.readouterr()
    _rewrite("w.safetensors", **metadata)
    assert main(["eval", "--weights", "w.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "w.safetensors" in err and message in err and _one_line_error(err)


def _edit_checkpoint(path, edit):
    """Apply ``edit(state_skeleton_items)`` to a checkpoint's JSON, in place."""
    skeleton = json.loads(dg.io.load_metadata(path)["deepgrad.checkpoint"])
    items = dict(skeleton["__items__"])
    edit(items)
    skeleton["__items__"] = [[k, v] for k, v in items.items()]
    _rewrite(path, **{"deepgrad.checkpoint": skeleton})


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s: s.update(epoch=-3), "field 'epoch' of the checkpoint must be a non-negative integer, got -3"),
        (lambda s: s.update(epoch="2"), "field 'epoch' of the checkpoint must be a non-negative integer, got '2'"),
        (lambda s: s.update(epoch=1.5), "field 'epoch' of the checkpoint must be a non-negative integer"),
        (lambda s: s.update(epoch=True), "field 'epoch' of the checkpoint must be a non-negative integer"),
        (lambda s: s.update(epoch=9), "the checkpoint is at epoch 9, past --epochs 4"),
        (lambda s: s.pop("rng"), "field 'rng' of the checkpoint must be a random generator state"),
        (lambda s: s.update(rng={"__items__": [["bit_generator", "Nope"]]}), "does not fit this random generator"),
        (lambda s: s.update(optimizer=None), "the checkpoint holds no optimizer state"),
        (lambda s: s.update(optimizer=[1]), "field 'optimizer' of the checkpoint must be a dict or null"),
        (
            lambda s: s.update(optimizer={"__items__": [["state", 5], ["param_groups", []]]}),
            "does not fit this optimizer",
        ),
        (lambda s: s.update(history="long"), "field 'history' of the checkpoint must be a dict of lists of numbers"),
        (lambda s: s.update(loader=7), "field 'loader' of the checkpoint must be a dict or null"),
        (lambda s: s.update(callbacks=[]), "field 'callbacks' of the checkpoint must be a dict"),
        (lambda s: s.update(model={"__items__": [["0.weight", 3]]}), "field 'model' of the checkpoint must be a dict"),
        (
            lambda s: s.update(epoch=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
            "must be a non-negative",
        ),
    ],
)
def test_checkpoint_fields_are_checked_before_use(in_tmp, capsys, edit, message):
    common = ["train", "--dataset", "moons", "--plots", "none", "--quiet"]
    assert main(common + ["--epochs", "2", "--checkpoint", "c.safetensors"]) == 0
    capsys.readouterr()
    _edit_checkpoint("c.safetensors", edit)
    assert main(common + ["--epochs", "4", "--resume", "c.safetensors"]) == 2
    out, err = capsys.readouterr()
    assert "c.safetensors" in err and message in err and _one_line_error(err)
    assert "epoch -2" not in out


def test_checkpoint_json_nesting_is_limited(in_tmp, capsys):
    common = ["train", "--dataset", "moons", "--plots", "none", "--quiet"]
    assert main(common + ["--epochs", "2", "--checkpoint", "c.safetensors"]) == 0
    _rewrite("c.safetensors", **{"deepgrad.checkpoint": "[" * 50_000 + "]" * 50_000})
    assert main(common + ["--epochs", "4", "--resume", "c.safetensors"]) == 2
    err = capsys.readouterr().err
    assert "c.safetensors: the checkpoint's metadata: the JSON nests too deeply" in err and _one_line_error(err)


@pytest.fixture
def odd_files(in_tmp):
    """A directory, a FIFO, a symbolic-link loop and a link to /dev/zero, each where a file is expected."""
    import os

    (in_tmp / "a-directory").mkdir()
    os.mkfifo(in_tmp / "a-fifo")
    os.symlink("loop-b", in_tmp / "loop-a")
    os.symlink("loop-a", in_tmp / "loop-b")
    os.symlink("/dev/zero", in_tmp / "zeros")
    return in_tmp


@pytest.mark.parametrize(
    "name, message",
    [
        ("a-directory", "a-directory is a directory, not a weight file"),
        ("a-fifo", "a-fifo is not a regular file (a FIFO)"),
        ("loop-a", "loop-a is not a regular file (a symbolic link loop)"),
        ("zeros", "zeros is not a regular file (a character device)"),
    ],
)
def test_weights_that_are_not_regular_files_are_never_opened(odd_files, capsys, name, message):
    import signal

    def hang(*_):
        raise AssertionError("opened a FIFO: waits forever for a writer")

    signal.signal(signal.SIGALRM, hang)
    signal.alarm(20)
    try:
        assert main(["eval", "--weights", name]) == 2
        assert main(["train", "--resume", name, "--quiet", "--plots", "none"]) == 2
    finally:
        signal.alarm(0)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 2 and "Traceback" not in err


def test_finished_checkpoint_writes_save_and_evaluates(in_tmp, capsys):
    """A crash between the last checkpoint and --save: --resume writes --save, eval and load take the checkpoint."""
    common = ["train", "--dataset", "moons", "--epochs", "3", "--plots", "none", "--quiet", "--seed", "4"]
    assert main(common + ["--save", "full.safetensors"]) == 0
    trained = _accuracy(capsys.readouterr().out)
    assert main(common + ["--checkpoint", "c.safetensors"]) == 0
    assert main(["eval", "--weights", "c.safetensors"]) == 0
    assert f"accuracy: {trained:.2f}%" in capsys.readouterr().out  # the seed of the test set comes from the checkpoint
    assert main(common + ["--resume", "c.safetensors", "--save", "late.safetensors"]) == 0
    out = capsys.readouterr().out
    assert "c.safetensors: the checkpoint holds all 3 epochs" in out and f"test accuracy: {trained:.2f}%" in out
    full, late, from_checkpoint = (dg.io.load(p) for p in ("full.safetensors", "late.safetensors", "c.safetensors"))
    assert list(full) == list(late) == list(from_checkpoint)
    for key in full:
        np.testing.assert_array_equal(full[key].array, late[key].array)
        np.testing.assert_array_equal(full[key].array, from_checkpoint[key].array)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--seed", "-1"], "--seed must be an integer from 0 to 2**63 - 1, got -1"),
        (["eval", "--weights", "w.safetensors", "--seed", "-1"], "--seed must be an integer from 0"),
        (["train", "--hidden", "100000000,100000000"], "--hidden 100000000,100000000 makes a model of"),
        (["summary", "--hidden", "100000000,100000000"], "GiB to train; this machine has"),
        (["train", "--dataset", "mnist", "--data-dir", "a-file"], "--data-dir a-file: is not a directory"),
        (["train", "--val-split", "0.9999"], "--val-split 0.9999 holds out 1500 of the 1500 training samples"),
        (["train", "--val-split", "0", "--early-stopping", "2"], "--early-stopping watches the validation loss"),
    ],
)
def test_smaller_mistakes_are_one_line(in_tmp, capsys, argv, message):
    (in_tmp / "a-file").write_text("not a directory")
    dg.io.save({"w": dg.zeros(1)}, "w.safetensors")
    if argv[0] == "train":
        argv = argv + ["--quiet", "--plots", "none", "--epochs", "1"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err and _one_line_error(err) and "training" not in out


def test_val_split_zero_means_no_validation(in_tmp, capsys):
    assert main(["train", "--dataset", "moons", "--val-split", "0", "--epochs", "1", "--plots", "none"]) == 0
    out = capsys.readouterr().out
    assert "(1000 samples)" in out and "validation" not in out


def test_all_nan_weights_are_evaluated_with_a_warning(in_tmp, capsys):
    argv = ["train", "--dataset", "spirals", "--epochs", "1", "--plots", "none", "--quiet", "--save", "w.safetensors"]
    assert main(argv) == 0
    capsys.readouterr()
    weights = dg.io.load("w.safetensors")
    metadata = dg.io.load_metadata("w.safetensors")
    dg.io.save({k: dg.full(v.shape, float("nan")) for k, v in weights.items()}, "w.safetensors", metadata=metadata)
    assert main(["eval", "--weights", "w.safetensors"]) == 0
    err = capsys.readouterr().err
    assert "warning: w.safetensors: 4,547 of its 4,547 weights are nan or infinite" in err


def test_stale_temporary_files_of_killed_writes_are_removed(in_tmp, capsys):
    import os
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = in_tmp / f".c.safetensors.{dead.pid}.k1ll3d.tmp"
    alive = in_tmp / f".c.safetensors.{os.getppid()}.wr1t1ng.tmp"
    other = in_tmp / ".c.safetensors.notes.tmp"
    for path in (stale, alive, other):
        path.write_bytes(b"half a checkpoint")
    assert main(["train", "--dataset", "moons", "--epochs", "1", "--quiet", "--checkpoint", "c.safetensors"]) == 0
    assert not stale.exists()  # the process that wrote it is gone
    assert alive.exists() and other.exists()  # a running writer's file and a file not named as ours stay
    assert sorted(p.name for p in in_tmp.glob(".c.safetensors.*")) == sorted([alive.name, other.name])


def test_a_data_directory_that_cannot_be_listed(open_tmp):
    from cli_helpers import run_unprivileged

    (open_tmp / "data" / "mnist").mkdir(parents=True)
    (open_tmp / "data").chmod(0o700)  # root's, and nobody else's
    argv = ["train", "--dataset", "mnist", "--data-dir", "data", "--quiet", "--plots", "none"]
    done = run_unprivileged(argv, open_tmp)
    assert done.returncode == 2, done.stderr
    assert "cannot look for train-images-idx3-ubyte in the data directory data/mnist: Permission denied" in done.stderr
    assert _one_line_error(done.stderr)


@pytest.mark.parametrize("delay", [0.0, 0.03, 0.06, 0.1, 0.2, 0.5])
def test_ctrl_c_while_the_command_starts_is_one_line(delay):
    """SIGINT at any moment after the entry point loaded, even while deepgrad and NumPy are still being
    imported: one line and status 130, no traceback. (Before the entry point runs, the interpreter itself
    is starting, which no program can handle.)"""
    import signal
    import subprocess
    import sys
    import time

    code = (
        "import sys, deepgrad_command; print('ready', flush=True); "
        "sys.argv = ['deepgrad', 'train', '--plots', 'none']; sys.exit(deepgrad_command.main())"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert process.returncode == 130, (process.returncode, err)
    assert err.strip().splitlines()[-1].startswith("deepgrad") and "interrupted" in err
