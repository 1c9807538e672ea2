"""deepgrad.models against torchvision 0.28: the same state_dict keys in the same order with the same shapes,
the parameter counts the papers and torchvision give, and the same eval-mode logits in float64 after
copying torchvision's (random) weights; the small-image variants, the compact CNN, and their errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from torchvision_helpers import import_torchvision

import deepgrad as dg
from deepgrad import models, nn

torch = pytest.importorskip("torch")

# the largest networks take seconds each to build (100M+ weights drawn); run them with DEEPGRAD_SLOW=1
slow = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("DEEPGRAD_SLOW"), reason="slow: set DEEPGRAD_SLOW=1 to run"),
]


@pytest.fixture(scope="module")
def tv():
    return import_torchvision()


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def keys_and_shapes(state) -> list[tuple[str, tuple[int, ...]]]:
    return [(key, tuple(value.shape)) for key, value in state.items()]


def copy_from_torch(ours: nn.Module, theirs) -> None:
    """Load torchvision's state dict (random weights, random batch-norm statistics) into ours, strictly."""
    state = {key: value.detach().numpy() for key, value in theirs.state_dict().items()}
    ours.load_state_dict({key: dg.tensor(value, dtype=value.dtype) for key, value in state.items()}, strict=True)


def randomise_batch_norm(theirs) -> None:
    """Non-trivial running statistics and affine parameters, so eval-mode batch norm is really tested."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                size = module.num_features
                module.running_mean.copy_(torch.randn(size, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.1)


def compare_logits(ours: nn.Module, theirs, shape, atol=1e-6) -> None:
    theirs = theirs.double().eval()
    randomise_batch_norm(theirs)
    ours.double()
    copy_from_torch(ours, theirs)
    ours.eval()
    x = np.random.default_rng(0).standard_normal(shape)
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    with dg.no_grad():
        out = ours(dg.tensor(x, dtype=dg.float64))
    assert out.dtype == dg.float64
    np.testing.assert_allclose(out.array, expected, rtol=1e-6, atol=atol)


# ---------------------------------------------------------------------------------------------------
# structure: keys, order, shapes, parameter counts (torchvision's on the meta device: no memory, no init)

PARAMETER_COUNTS = {  # 1000 classes; the figures and torchvision's documentation
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "googlenet": 6_624_904,
}
SLOW_STRUCTURE = {"vgg11_bn", "vgg13", "vgg13_bn", "vgg16_bn", "vgg19", "vgg19_bn", "resnet101", "resnet152"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=slow) if n in SLOW_STRUCTURE else n for n in PARAMETER_COUNTS],
)
def test_state_dict_keys_shapes_and_parameter_count_match_torchvision(tv, name):
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    if name.startswith("vgg"):
        kwargs["init_weights"] = False  # the structure is the point here; drawing 140M weights is slow
    with torch.device("meta"):
        theirs = getattr(tv.models, name)(**kwargs)
    ours = getattr(models, name)(**kwargs)
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(theirs.state_dict())
    assert count(ours) == count(theirs) == PARAMETER_COUNTS[name]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_googlenet_with_aux_heads_matches_torchvision_structure(tv):
    with torch.device("meta"):
        theirs = tv.models.googlenet(aux_logits=True, init_weights=False)
    ours = models.googlenet(aux_logits=True, init_weights=False)
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(theirs.state_dict())
    assert count(ours) == count(theirs) == 13_004_888


def test_model_reprs_match_torchvision(tv):
    for name, kwargs in [("resnet50", {"num_classes": 10}), ("googlenet", {"aux_logits": True, "init_weights": False})]:
        with torch.device("meta"):
            theirs = getattr(tv.models, name)(**kwargs)
        assert repr(getattr(models, name)(**kwargs)) == repr(theirs)


# ---------------------------------------------------------------------------------------------------
# logits in float64 after copying torchvision's random weights


@pytest.mark.parametrize(
    "name,kwargs,shape",
    [
        ("alexnet", {"num_classes": 10}, (2, 3, 64, 64)),
        pytest.param("vgg11_bn", {"num_classes": 10}, (2, 3, 32, 32), marks=slow),
        ("resnet18", {}, (2, 3, 64, 64)),
        ("resnet34", {"num_classes": 7}, (1, 3, 32, 32)),
        ("resnet50", {"num_classes": 10, "zero_init_residual": True}, (2, 3, 64, 64)),
        ("googlenet", {"aux_logits": True, "transform_input": True, "num_classes": 10}, (2, 3, 64, 64)),
        ("googlenet", {"aux_logits": False}, (1, 3, 40, 48)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_eval_logits_match_torchvision(tv, name, kwargs, shape):
    compare_logits(getattr(models, name)(**kwargs), getattr(tv.models, name)(**kwargs), shape)


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn"])
def test_vgg_logits_match_torchvision_with_a_narrow_classifier(tv, name):
    """The full VGG logits test is slow (130M+ weights in float64); here the classifier's two wide layers are
    swapped for narrow ones in both networks, so every convolution, pooling, batch norm and the flatten order
    between the adaptive pool and the classifier are compared in seconds."""
    ours, theirs = getattr(models, name)(num_classes=10), getattr(tv.models, name)(num_classes=10)
    for index, (fan_in, fan_out) in {0: (512 * 7 * 7, 32), 3: (32, 32), 6: (32, 10)}.items():
        ours.classifier[index] = nn.Linear(fan_in, fan_out)
        theirs.classifier[index] = torch.nn.Linear(fan_in, fan_out)
    compare_logits(ours, theirs, (2, 3, 32, 32))


def test_googlenet_training_outputs_and_aux_heads_match_torchvision(tv):
    kwargs = {"num_classes": 5, "aux_logits": True, "dropout": 0.0, "dropout_aux": 0.0}
    theirs = tv.models.googlenet(**kwargs).double()
    ours = models.googlenet(**kwargs).double()
    copy_from_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64))
    expected = theirs.train()(torch.tensor(x))
    out = ours.train()(dg.tensor(x, dtype=dg.float64))
    assert isinstance(out, models.GoogLeNetOutputs) and out._fields == expected._fields
    for mine, reference in zip(out, expected):
        np.testing.assert_allclose(mine.array, reference.detach().numpy(), rtol=1e-6, atol=1e-8)
    # the batch statistics were tracked as torchvision tracks them
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    for key in ("conv1.bn.running_mean", "inception4a.branch2.1.bn.running_var", "aux1.conv.bn.running_mean"):
        np.testing.assert_allclose(ours_state[key].array, theirs_state[key].numpy(), rtol=1e-6, atol=1e-10)
    assert ours.eval()(dg.tensor(x, dtype=dg.float64)).shape == (2, 5)


def test_resnet_small_input_variant_equals_torchvision_with_the_cifar_stem(tv):
    theirs = tv.models.resnet18(num_classes=10)
    theirs.conv1 = torch.nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    theirs.maxpool = torch.nn.Identity()
    ours = models.resnet18(num_classes=10, in_channels=1, small_input=True)
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(theirs.state_dict())
    compare_logits(ours, theirs, (2, 1, 28, 28))


def test_torchvision_state_dict_saved_with_safetensors_loads_strictly(tv, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    theirs = tv.models.resnet18(num_classes=10).eval()
    randomise_batch_norm(theirs)
    path = tmp_path / "resnet18.safetensors"
    safetensors_torch.save_file(theirs.state_dict(), str(path))
    ours = models.resnet18(num_classes=10)
    ours.load_state_dict(dg.load(path), strict=True)
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.tensor(x)).numpy()
    with dg.no_grad():
        np.testing.assert_allclose(ours.eval()(dg.tensor(x)).array, expected, rtol=1e-4, atol=1e-4)


def test_initialisation_follows_torchvision():
    dg.manual_seed(0)
    resnet = models.resnet18(zero_init_residual=True)
    conv = resnet.layer1[0].conv1.weight.array
    assert abs(conv.std() - np.sqrt(2 / (64 * 9))) < 0.002  # kaiming normal, fan_out = 64 * 3 * 3
    assert not resnet.layer1[0].bn2.weight.array.any() and resnet.layer1[0].bn1.weight.array.all()
    vgg = models.vgg11(num_classes=10, small_input=True)
    assert abs(vgg.classifier[0].weight.array.std() - 0.01) < 0.001 and not vgg.classifier[0].bias.array.any()
    google = models.googlenet(aux_logits=False)
    assert np.abs(google.fc.weight.array).max() <= 2 and abs(google.fc.weight.array.std() - 0.01) < 0.001


# ---------------------------------------------------------------------------------------------------
# small-image variants and the compact CNN


@pytest.mark.parametrize(
    "build",
    [
        lambda c: models.alexnet(num_classes=10, in_channels=c, small_input=True),
        lambda c: models.vgg11_bn(num_classes=10, in_channels=c, small_input=True),
        lambda c: models.vgg16(num_classes=10, in_channels=c, small_input=True),
        lambda c: models.resnet18(num_classes=10, in_channels=c, small_input=True),
        lambda c: models.resnet50(num_classes=10, in_channels=c, small_input=True),
        lambda c: models.googlenet(num_classes=10, in_channels=c, small_input=True, aux_logits=False),
    ],
)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_small_input_variants_take_mnist_and_cifar_images(build, shape):
    model = build(shape[0]).eval()
    with dg.no_grad():
        assert model(dg.zeros(2, *shape)).shape == (2, 10)


def test_small_variants_have_small_classifiers():
    features = 14_714_688  # VGG-16's 13 convolutions
    assert count(models.vgg16(num_classes=10, small_input=True)) == features + 2 * (512 * 512 + 512) + 512 * 10 + 10
    assert count(models.resnet18(num_classes=10, small_input=True)) == 11_173_962


def torch_cnn(batch_norm: bool) -> torch.nn.Module:
    """PyTorch's MNIST example net; with ``batch_norm``, each convolution (without its bias) normalised."""

    def convolution(in_channels: int, out_channels: int) -> list:
        if not batch_norm:
            return [torch.nn.Conv2d(in_channels, out_channels, 3)]
        return [torch.nn.Conv2d(in_channels, out_channels, 3, bias=False), torch.nn.BatchNorm2d(out_channels)]

    return torch.nn.Sequential(
        *convolution(1, 32),
        torch.nn.ReLU(),
        *convolution(32, 64),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Dropout(0.25),
        torch.nn.Flatten(),
        torch.nn.Linear(9216, 128),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(128, 10),
    )


@pytest.mark.parametrize("batch_norm, parameters", [(False, 1_199_882), (True, 1_199_978)])
def test_cnn_matches_the_torch_sequential_and_its_parameter_count(batch_norm, parameters):
    ours = models.cnn(batch_norm=batch_norm)
    theirs = torch_cnn(batch_norm)
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(theirs.state_dict())
    assert count(ours) == parameters
    compare_logits(ours, theirs, (2, 1, 28, 28), atol=1e-9)
    small = models.cnn(num_classes=10, in_channels=3, image_size=32, batch_norm=batch_norm)
    assert small(dg.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(TypeError, match="batch_norm must be True or False"):
        models.cnn(batch_norm="yes")


def test_the_command_cnn_is_the_batch_norm_variant():
    from deepgrad.train.registry import MODELS, ModelSpec

    model = MODELS["cnn"].build(ModelSpec("cnn", "mnist", 784, 10))
    kinds = [type(layer).__name__ for layer in model]
    assert kinds[:6] == ["Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    assert model[0].bias is None and [model[7].p, model[11].p] == [0.1, 0.25]


def test_lenet_on_three_channel_32x32_images_matches_torch():
    # the 1998 layout: no padding on 32x32, so conv1's output is 28x28 as with the padded 28x28 MNIST form
    ours = models.LeNet5(in_channels=3, image_size=32)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120),
        torch.nn.ReLU(),
        torch.nn.Linear(120, 84),
        torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    assert keys_and_shapes(ours.state_dict()) == keys_and_shapes(theirs.state_dict())
    assert ours[0].weight.shape == (6, 3, 5, 5) and ours[0].padding == (0, 0)
    # conv1 3*6*25+6, conv2 6*16*25+16, then 400*120+120, 120*84+84, 84*10+10
    assert count(ours) == 456 + 2416 + 48120 + 10164 + 850 == 62_006
    assert count(models.LeNet5()) == 61_706  # the default, 1x28x28, unchanged
    assert ours(dg.zeros(2, 3, 32, 32)).shape == (2, 10)
    shapes = [layer.output_shape for layer in nn.summary(ours, (2, 3, 32, 32)).layers]
    assert shapes[0] == (2, 6, 28, 28) and shapes[5] == (2, 16, 5, 5)
    compare_logits(ours, theirs, (2, 3, 32, 32), atol=1e-9)
    tanh = models.LeNet5(num_classes=4, activation="tanh", pool="avg", in_channels=2, image_size=32)
    assert (
        tanh(dg.zeros(1, 2, 32, 32)).shape == (1, 4)
        and count(tanh) == 2 * 6 * 25 + 6 + 2416 + 48120 + 10164 + 84 * 4 + 4
    )


def test_lenet_errors():
    with pytest.raises(ValueError, match=r"LeNet5: image_size must be 28 .* or 32 .*; got 30"):
        models.LeNet5(image_size=30)
    with pytest.raises(ValueError, match="got True"):
        models.LeNet5(image_size=True)
    with pytest.raises(ValueError, match="LeNet5: in_channels must be a positive integer, got 0"):
        models.LeNet5(in_channels=0)
    with pytest.raises(ValueError, match="LeNet5: num_classes must be a positive integer, got -1"):
        models.LeNet5(num_classes=-1)


def test_a_small_resnet_training_step_lowers_the_loss():
    dg.manual_seed(0)
    model = models.ResNet(models.BasicBlock, [1, 1, 1, 1], num_classes=3, in_channels=1, small_input=True)
    x = dg.randn(8, 1, 8, 8)
    y = dg.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    optimizer = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in model.parameters())


def test_model_builder_errors():
    with pytest.raises(ValueError, match=r"weights='IMAGENET1K_V1' asks for pretrained weights.*load_state_dict"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        models.alexnet(num_classes=0)
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        models.resnet18(groups=2)
    with pytest.raises(ValueError, match="dropout must be a probability"):
        models.vgg11(dropout=1.5)
    with pytest.raises(ValueError, match="transform_input needs 3 input channels"):
        models.googlenet(transform_input=True, in_channels=1)
    with pytest.raises(ValueError, match="image_size must be at least 6"):
        models.cnn(image_size=4)


def test_vision_models_reexports_the_builders():
    import deepgrad.vision as torchvision_port

    assert torchvision_port.models.resnet18 is models.resnet18
    assert torchvision_port.models.googlenet is models.googlenet


# ---------------------------------------------------------------------------------------------------
# the command line and the registry: --model for the architectures, --dataset cifar10, --augment


def write_cifar(directory, n=8):
    """CIFAR-10's binary batches in the real format (label byte + 3072 pixel bytes), ``n`` records each."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for seed, name in enumerate(names):
        rng = np.random.default_rng(seed)
        images = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, (n, 1)).astype(np.uint8)
        (directory / name).write_bytes(np.concatenate([labels, images], axis=1).tobytes())


def test_training_defaults_follow_the_model_on_image_data():
    from deepgrad.train.registry import training_defaults

    lenet = training_defaults("lenet", "mnist")
    assert (lenet["epochs"], lenet["optimizer"], lenet["schedule"]) == (10, "adam", "cosine")
    cnn = training_defaults("cnn", "mnist")
    assert (cnn["epochs"], cnn["batch_size"], cnn["lr_adam"], cnn["schedule"]) == (3, 64, 0.003, "onecycle")
    assert training_defaults("mlp", "mnist")["epochs"] == 15 and "optimizer" not in training_defaults("mlp", "mnist")
    assert training_defaults("lenet", "spirals") == training_defaults(None, "spirals")


# parameter counts of the command's models: (1, 28, 28) images (mnist, fashion-mnist), (3, 32, 32) (cifar10)
COMMAND_PARAMETERS = {
    "lenet": ("61,706", "62,006"),
    "cnn": ("1,199,978", "1,626,538"),
    "alexnet": ("4,557,514", "4,560,714"),
    "vgg11": ("9,749,770", "9,750,922"),
    "vgg16": ("15,243,978", "15,245,130"),
    "resnet18": ("11,172,810", "11,173,962"),
    "resnet34": ("21,280,970", "21,282,122"),
    "resnet50": ("23,519,690", "23,520,842"),
    "googlenet": ("5,601,322", "5,602,474"),
}


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10"])
@pytest.mark.parametrize("model", list(COMMAND_PARAMETERS))
def test_summary_command_builds_each_architecture_for_each_data_set(capsys, monkeypatch, tmp_path, model, dataset):
    from deepgrad.cli import main

    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "empty"))  # summary reads no data files
    assert main(["summary", "--model", model, "--dataset", dataset]) == 0
    text = capsys.readouterr().out
    shape = "(1, 3, 32, 32)" if dataset == "cifar10" else "(1, 1, 28, 28)"
    assert f"Input shape: {shape}" in text and "Output shape: (1, 10)" in text
    assert f"Total params: {COMMAND_PARAMETERS[model][dataset == 'cifar10']}" in text


def test_summary_and_train_lenet_on_cifar10(tmp_path, capsys, monkeypatch):
    from deepgrad.cli import main

    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "empty"))  # summary reads no data files
    assert main(["summary", "--model", "lenet", "--dataset", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert "lenet5 (relu)" in out and "Input shape: (1, 3, 32, 32)" in out and "Output shape: (1, 10)" in out
    assert "62,006" in out and "(1, 6, 28, 28)" in out  # no padding: 32 - 5 + 1
    write_cifar(tmp_path / "data" / "cifar10" / "cifar-10-batches-bin")
    common = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data")]
    argv = ["train", "--model", "lenet", *common, "--epochs", "1", "--batch-size", "8", "--quiet", "--plots", "none"]
    assert main(argv) == 0


def test_train_cnn_on_cifar10_files_with_augment_then_eval(tmp_path, capsys):
    import json

    from deepgrad.cli import main

    write_cifar(tmp_path / "data" / "cifar10" / "cifar-10-batches-bin")
    metrics, weights = tmp_path / "metrics.json", tmp_path / "cnn.safetensors"
    common = ["--dataset", "cifar10", "--data-dir", str(tmp_path / "data")]
    status = main(
        ["train", "--model", "cnn", *common, "--epochs", "2", "--batch-size", "8", "--augment", "--quiet"]
        + ["--plots", "none", "--metrics-json", str(metrics), "--save", str(weights)]
    )
    assert status == 0
    report = json.loads(metrics.read_text())
    assert report["epochs_run"] == 2 and report["config"]["model"] == "cnn"
    assert "adam lr 0.003" in capsys.readouterr().out  # the model's defaults (the one-cycle peak)
    assert report["history"]["lr"][-1] == pytest.approx(0.003 / 25 / 1e4)  # onecycle, annealed to its end
    assert main(["eval", "--weights", str(weights), *common, "--quiet"]) == 0


def test_cifar10_images_are_standardised_per_channel_for_image_models(tmp_path):
    from deepgrad.data import DataLoader
    from deepgrad.train.config import DataConfig
    from deepgrad.train.registry import CIFAR10_MEAN, CIFAR10_STD, DATASETS

    write_cifar(tmp_path / "cifar10" / "cifar-10-batches-bin", n=4)
    entry = DATASETS["cifar10"]
    config = DataConfig(data_dir=str(tmp_path))
    bundle = entry.load(config, 0, True, entry)
    raw = np.frombuffer((tmp_path / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").read_bytes(), np.uint8)
    pixels = raw.reshape(4, 3073)[:, 1:].reshape(4, 3, 32, 32) / 255.0
    mean, std = np.array(CIFAR10_MEAN).reshape(3, 1, 1), np.array(CIFAR10_STD).reshape(3, 1, 1)
    expected = ((pixels - mean) / std).astype(np.float32)
    images, labels = next(iter(DataLoader(bundle.test, batch_size=4)))  # the vectorised gather
    np.testing.assert_allclose(images.array, expected, rtol=1e-5, atol=1e-6)
    assert labels.tolist() == raw.reshape(4, 3073)[:, 0].tolist()
    image, label = bundle.test[2]  # sample by sample
    np.testing.assert_allclose(np.asarray(image.array), expected[2], rtol=1e-5, atol=1e-6)
    assert len(bundle.train) == 20 and bundle.train.supports_gather
    flat = entry.load(config, 0, False, entry).test  # an MLP's vectors stay x / 255
    np.testing.assert_allclose(flat[0][0].array, pixels[0].ravel(), rtol=1e-6)


def test_augment_and_schedule_settings_are_checked(tmp_path, capsys):
    from deepgrad.cli import main

    assert main(["train", "--dataset", "moons", "--model", "mlp", "--augment", "--quiet", "--plots", "none"]) == 2
    assert "--augment" in capsys.readouterr().err
    assert main(["train", "--dataset", "moons", "--schedule", "linear", "--quiet", "--plots", "none"]) == 2
    assert "schedule" in capsys.readouterr().err


def test_cosine_schedule_lowers_the_learning_rate_each_epoch():
    from deepgrad.train import DataConfig, ModelConfig, OptimConfig, TrainConfig
    from deepgrad.train.runner import prepare, run

    config = TrainConfig(ModelConfig("mlp", [8]), DataConfig("moons"), OptimConfig(epochs=4, schedule="cosine"))
    plan = prepare(config)
    assert plan.scheduler is not None and plan.lr == pytest.approx(0.1)
    run(plan)
    assert plan.lr == pytest.approx(0.0, abs=1e-12)  # cosine to zero after T_max = epochs


def test_torchvision_weight_enums_import_and_say_how_to_load_weights():
    from deepgrad.vision.models import ResNet18_Weights, ResNet50_Weights, VGG16_Weights, resnet18

    assert ResNet18_Weights.DEFAULT is ResNet18_Weights.IMAGENET1K_V1
    assert ResNet50_Weights.DEFAULT is ResNet50_Weights.IMAGENET1K_V2 and len(list(ResNet50_Weights)) == 2
    assert VGG16_Weights.DEFAULT is VGG16_Weights.IMAGENET1K_V1
    with pytest.raises(
        ValueError, match=r"weights=ResNet18_Weights.IMAGENET1K_V1 asks for pretrained weights.*load_state_dict"
    ):
        resnet18(weights=ResNet18_Weights.DEFAULT)
