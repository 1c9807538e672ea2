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
    assert main(["eval", "--weights", "c.safetensors"]) == 2
    assert "is a training checkpoint" in capsys.readouterr().err


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
