"""The ``deepgrad`` command's options (argparse); `deepgrad.cli.options` turns them into typed configs."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepgrad", description="deepgrad: train, evaluate and explain networks.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    train = commands.add_parser("train", help="train a model")
    _add_model_options(train)
    _add_data_options(train)
    train.add_argument("--loss", default=None, help="cross-entropy, mse or l1 (default: by dataset)")
    train.add_argument("--epochs", type=int, default=None, help="passes over the training data")
    train.add_argument(
        "--batch-size",
        default=None,
        help="mini-batch size, or 'full' for full-batch gradient descent; with --distributed the global batch, "
        "split equally over the ranks (a multiple of their number)",
    )
    train.add_argument(
        "--tol", type=float, default=None, help="with --batch-size full: stop when the loss improves by less"
    )
    train.add_argument("--optimizer", default=None, help="sgd, adam or adamw (default: the model's, else sgd)")
    train.add_argument(
        "--schedule",
        default=None,
        help="learning-rate schedule: none; cosine (per epoch, from --lr down to 0); onecycle (per batch: up "
        "from --lr/25 to --lr in the first 30%% of the steps, then down to --lr/25e4, with SGD momentum or "
        "Adam's beta1 cycling 0.95-0.85-0.95 unless --momentum is given) (default: the model's, else none)",
    )
    train.add_argument("--lr", type=float, default=None, help="learning rate (with --schedule onecycle: the peak)")
    train.add_argument("--momentum", type=float, default=None, help="SGD momentum")
    train.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay")
    train.add_argument("--l1", type=float, default=0.0, help="L1 penalty strength (lambda * sum |w|)")
    train.add_argument("--val-split", type=float, default=None, help="fraction of the training data held out")
    train.add_argument(
        "--augment", action="store_true", help="image models: random shifts (and flips on CIFAR-10) of each batch"
    )
    train.add_argument(
        "--early-stopping",
        type=int,
        default=None,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without improvement",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed")
    train.add_argument("--save", default=None, metavar="FILE", help="write the trained weights (.safetensors)")
    train.add_argument("--checkpoint", default=None, metavar="FILE", help="write a resumable checkpoint every epoch")
    train.add_argument("--resume", default=None, metavar="CKPT", help="continue from a checkpoint")
    train.add_argument("--plots", default=None, metavar="DIR", help="write PNG plots here")
    train.add_argument("--metrics-json", default=None, metavar="FILE", help="write per-epoch metrics as JSON")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training on the ranks started by mpiexec -n N (each trains on its share of every "
        "batch; rank 0 prints and writes the outputs)",
    )

    evaluate = commands.add_parser("eval", help="evaluate saved weights")
    _add_model_options(evaluate)
    _add_data_options(evaluate)
    evaluate.add_argument("--weights", required=True, metavar="FILE", help="weights written by `deepgrad train --save`")
    evaluate.add_argument("--batch-size", default="1000", help="evaluation batch size")
    evaluate.add_argument("--plots", default=None, metavar="DIR", help="write the confusion matrix plot here")
    evaluate.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of a generated toy test set (default: the training seed, from the file)",
    )
    evaluate.add_argument("--quiet", action="store_true")

    summary = commands.add_parser("summary", help="print a model's layers and parameter counts")
    _add_model_options(summary)
    summary.add_argument(
        "--dataset", default="spirals", help="the dataset the model is built for (sets input/output sizes)"
    )

    explain = commands.add_parser("explain", help="show the graph, forward values and backward trace of an expression")
    explain.add_argument("expression", help='e.g. "z*(x+y)"')
    explain.add_argument("--at", default="", metavar="NAME=VALUE,...", help="values of the variables")
    explain.add_argument("--graph", default=None, metavar="FILE", help="write the graph (.svg, .png or .dot)")
    explain.add_argument("--html", default=None, metavar="FILE", help="write a step-through HTML page")
    explain.add_argument("--precision", type=int, default=2, metavar="N", help="decimals shown (default 2)")
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        help="linear, mlp; on images also lenet, cnn, alexnet, vgg11, vgg16, resnet18, resnet34, resnet50, googlenet "
        "(default: mlp)",
    )
    parser.add_argument("--hidden", default=None, help="hidden layer sizes, e.g. 512,256 (default: by dataset)")
    parser.add_argument(
        "--activation", default=None, help="relu, tanh, sigmoid, leaky_relu, elu, gelu, silu (default: relu)"
    )
    parser.add_argument(
        "--dropout", type=float, default=None, help="dropout probability after each hidden layer (default: 0)"
    )


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default=None,
        help="spirals, circles, moons, xor, sine, mnist, fashion-mnist, cifar10 (default: spirals)",
    )
    parser.add_argument(
        "--data-dir", default=None, metavar="DIR", help="where the MNIST / CIFAR-10 files are (or $DEEPGRAD_DATA)"
    )
    parser.add_argument(
        "--download", action="store_true", help="fetch missing data files from the public mirrors (checksums checked)"
    )


_EXPLAIN_OPTIONS = ("--at", "--graph", "--html", "--precision", "--help")
_EXPLAIN_VALUES = ("--at", "--graph", "--html", "--precision")  # the options that take a value


def _option(token: str, options: tuple[str, ...]) -> bool:
    """``token`` names one of ``options``, in full or abbreviated as argparse allows (``--prec``, ``--at=1``)."""
    name = token.split("=", 1)[0]
    return len(name) > 2 and name.startswith("--") and any(option.startswith(name) for option in options)


def protect_expression(argv: list[str]) -> list[str]:
    """`deepgrad explain "-x**2"` or `deepgrad explain --x`: argparse takes a leading minus for an option;
    move the expression behind `--`. The first token that starts with a minus and is neither one of explain's
    options nor an option's value is the expression."""
    if not argv or argv[0] != "explain" or "--" in argv:
        return argv
    for position, token in enumerate(argv[1:], 1):
        if not token.startswith("-") or token == "-h" or _option(token, _EXPLAIN_OPTIONS):
            continue
        previous = argv[position - 1]
        if position > 1 and "=" not in previous and _option(previous, _EXPLAIN_VALUES):
            continue  # the value of an option, e.g. --at -1 is not valid anyway, leave it to the parser
        return [*argv[:position], *argv[position + 1 :], "--", token]
    return argv
