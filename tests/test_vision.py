"""deepgrad.vision (transforms, datasets, make_grid, models) against torchvision; batch augmentation."""

import importlib

import numpy as np
import pytest
from test_cifar import write_batches
from test_mnist import write_split
from torchvision_helpers import import_torchvision

import deepgrad
import deepgrad.vision as torchvision_port
from deepgrad.data import DataLoader
from deepgrad.data import transforms as batch_transforms
from deepgrad.vision import datasets, transforms, utils
from deepgrad.vision.transforms import functional as F


@pytest.fixture(scope="module")
def tv():
    torchvision = import_torchvision()
    for module in ("torchvision.transforms.functional", "torchvision.transforms.v2", "torchvision.utils"):
        importlib.import_module(module)
    return torchvision


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def rgb(h=7, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def floats(*shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


# ---------------------------------------------------------------------------------------------- the package


def test_import_as_torchvision():
    import deepgrad.vision as torchvision

    assert torchvision.models.MLP is deepgrad.models.MLP and torchvision.models.LeNet5 is deepgrad.models.LeNet5
    assert set(deepgrad.models.__all__) <= set(dir(torchvision.models))
    assert deepgrad.vision is torchvision  # the lazy subpackage of deepgrad
    assert torchvision.transforms.functional is F
    assert callable(torchvision.utils.make_grid) and torchvision.datasets.CIFAR10 is datasets.CIFAR10


# ---------------------------------------------------------------------------------------------- ToTensor


def test_to_tensor_matches_torchvision(tv):
    for image in (rgb(), rgb()[:, :, 0], np.zeros((3, 4, 1), np.uint8), rgb().astype(np.float64) / 7):
        ours, theirs = transforms.ToTensor()(image), tv.transforms.ToTensor()(image)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == np.dtype(str(theirs.dtype).split(".")[1])
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_to_tensor_of_pil_images(tv):
    pil = pytest.importorskip("PIL.Image")
    for image in (pil.fromarray(rgb()), pil.fromarray(rgb()[:, :, 1]), pil.fromarray(rgb()[:, :, 0] > 128)):
        ours, theirs = transforms.ToTensor()(image), tv.transforms.ToTensor()(image)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_to_tensor_values_and_errors():
    out = F.to_tensor(np.array([[0, 51, 255]], np.uint8))
    assert out.shape == (1, 1, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), np.array([[[0.0, 0.2, 1.0]]], np.float32))
    with pytest.raises(TypeError, match=r"got a Tensor of shape \(3, 4\)"):
        F.to_tensor(deepgrad.zeros(3, 4))
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2, 2\)"):
        F.to_tensor(np.zeros((2, 2, 2, 2), np.uint8))
    with pytest.raises(TypeError, match="got list"):
        F.to_tensor([[1, 2]])


# ---------------------------------------------------------------------------------------------- Normalize


def test_normalize_matches_torchvision(tv, torch):
    x = floats(2, 3, 5, 4)
    mean, std = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)
    ours = transforms.Normalize(mean, std)(deepgrad.tensor(x))
    theirs = tv.transforms.Normalize(mean, std)(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    single = transforms.Normalize((0.1307,), (0.3081,))(deepgrad.tensor(x[0, :1]))
    np.testing.assert_allclose(single.numpy(), (x[0, :1] - 0.1307) / 0.3081, rtol=1e-6)


def test_normalize_gradient_and_inplace():
    x = deepgrad.tensor(floats(3, 2, 2).astype(np.float64), requires_grad=True)
    out = F.normalize(x, [0.5, 0.0, 1.0], [2.0, 4.0, 0.5])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(np.array([0.5, 0.25, 2.0])[:, None, None], (3, 2, 2)))
    y = deepgrad.tensor(np.ones((1, 2, 2), np.float32))
    assert transforms.Normalize([1.0], [2.0], inplace=True)(y) is y and float(y.sum()) == 0.0


def test_normalize_errors():
    with pytest.raises(TypeError, match="float tensor, got uint8"):
        F.normalize(deepgrad.zeros(3, 2, 2, dtype=deepgrad.uint8), [0.5] * 3, [0.5] * 3)
    with pytest.raises(ValueError, match="divide by zero"):
        F.normalize(deepgrad.zeros(3, 2, 2), [0.5] * 3, [0.5, 0.0, 1.0])
    with pytest.raises(ValueError, match="mean has 2 values, the image has 3 channels"):
        F.normalize(deepgrad.zeros(3, 2, 2), [0.5] * 2, [0.5] * 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\), got shape \(2, 2\)"):
        F.normalize(deepgrad.zeros(2, 2), [0.5], [0.5])


# ---------------------------------------------------------------------------------------------- Compose, Lambda


def test_compose_and_lambda():
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t * 2)])
    np.testing.assert_array_equal(pipeline(np.full((2, 2), 255, np.uint8)).numpy(), np.full((1, 2, 2), 2.0))
    assert "ToTensor()" in repr(pipeline) and repr(pipeline).startswith("Compose(")
    with pytest.raises(TypeError, match="lambd should be callable"):
        transforms.Lambda(3)
    with pytest.raises(TypeError, match="transform 1"):
        transforms.Compose([transforms.ToTensor(), "crop"])


# ---------------------------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding", [2, (1, 3), (1, 2, 3, 0)])
def test_pad_matches_torchvision(tv, torch, mode, padding):
    x = floats(3, 5, 6)
    ours = transforms.Pad(padding, fill=0.5, padding_mode=mode)(deepgrad.tensor(x))
    theirs = tv.transforms.Pad(list(padding) if isinstance(padding, tuple) else padding, 0.5, mode)(torch.tensor(x))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_pad_arrays_and_errors():
    image = rgb(4, 5)
    out = F.pad(image, (1, 2))
    assert out.shape == (8, 7, 3) and out[0].sum() == 0
    np.testing.assert_array_equal(out[2:6, 1:6], image)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        transforms.Pad(1, padding_mode="wrap")
    with pytest.raises(TypeError, match="sequence of 1, 2 or 4 ints"):
        transforms.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="smaller than the image"):
        F.pad(deepgrad.zeros(1, 2, 2), 2, padding_mode="reflect")


def test_crop_matches_torchvision_also_outside_the_image(tv, torch):
    x = floats(2, 6, 7)
    for args in ((1, 2, 3, 4), (0, 0, 6, 7), (-1, 5, 4, 4), (4, -2, 5, 3)):
        np.testing.assert_array_equal(
            F.crop(deepgrad.tensor(x), *args).numpy(), tv.transforms.functional.crop(torch.tensor(x), *args).numpy()
        )


@pytest.mark.parametrize("size", [3, (4, 2), (8, 9), (5, 10)])
def test_center_crop_matches_torchvision(tv, torch, size):
    x = floats(3, 6, 7)
    theirs = tv.transforms.CenterCrop(size)(torch.tensor(x))
    np.testing.assert_array_equal(transforms.CenterCrop(size)(deepgrad.tensor(x)).numpy(), theirs.numpy())


@pytest.mark.parametrize("mode", ["constant", "reflect"])
def test_random_crop_is_torchvisions_crop_of_the_padded_image(tv, torch, mode):
    x = floats(3, 8, 8)
    crop = transforms.RandomCrop(6, padding=3, padding_mode=mode, fill=0.25)
    seen = set()
    for seed in range(30):
        deepgrad.manual_seed(seed)
        out = crop(deepgrad.tensor(x))
        deepgrad.manual_seed(seed)
        top, left, h, w = transforms.RandomCrop.get_params(F.pad(deepgrad.tensor(x), 3), (6, 6))
        padded = tv.transforms.functional.pad(torch.tensor(x), 3, fill=0.25, padding_mode=mode)
        np.testing.assert_array_equal(out.numpy(), tv.transforms.functional.crop(padded, top, left, h, w).numpy())
        seen.add((top, left))
    assert len(seen) > 15 and all(0 <= t <= 8 and 0 <= s <= 8 for t, s in seen)


def test_random_crop_on_arrays_and_batches():
    deepgrad.manual_seed(1)
    image = rgb(32, 32)
    out = transforms.RandomCrop(32, padding=4)(image)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    assert any(np.array_equal(out, padded[i : i + 32, j : j + 32]) for i in range(9) for j in range(9))
    batch = deepgrad.tensor(floats(4, 3, 10, 10))
    cropped = transforms.RandomCrop((5, 6))(batch)  # one window for the whole batch, as torchvision
    assert cropped.shape == (4, 3, 5, 6)
    assert transforms.RandomCrop(40, pad_if_needed=True)(image).shape == (40, 40, 3)
    with pytest.raises(ValueError, match=r"crop size \(40, 40\) is larger than the image size \(32, 32\)"):
        transforms.RandomCrop(40)(image)
    deepgrad.manual_seed(5)
    a = transforms.RandomCrop(24)(image)
    deepgrad.manual_seed(5)
    np.testing.assert_array_equal(a, transforms.RandomCrop(24)(image))


def test_random_horizontal_flip(tv, torch):
    x = floats(3, 4, 5)
    flipped = transforms.RandomHorizontalFlip(p=1.0)(deepgrad.tensor(x))
    np.testing.assert_array_equal(flipped.numpy(), tv.transforms.functional.hflip(torch.tensor(x)).numpy())
    assert transforms.RandomHorizontalFlip(p=0.0)(x) is x
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(1.0)(rgb()), rgb()[:, ::-1])
    deepgrad.manual_seed(0)
    flips = sum(transforms.RandomHorizontalFlip(0.3)(x) is not x for _ in range(2000))
    assert 500 < flips < 700
    np.testing.assert_array_equal(transforms.RandomVerticalFlip(1.0)(rgb()), rgb()[::-1])
    with pytest.raises(ValueError, match="probability"):
        transforms.RandomHorizontalFlip(1.5)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(5, 4), (13, 20), 6, (7, 3), (16, 16)])
def test_resize_bilinear_matches_torchvision(tv, torch, size, antialias):
    x = floats(2, 3, 16, 11)
    ours = transforms.Resize(size, antialias=antialias)(deepgrad.tensor(x))
    theirs = tv.transforms.Resize(size, antialias=antialias)(torch.tensor(x))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=2e-6)


def test_resize_nearest_uint8_max_size_and_arrays(tv, torch):
    x = floats(3, 9, 14)
    nearest = tv.transforms.InterpolationMode.NEAREST
    for size in ((4, 5), (20, 31), 7):
        ours = transforms.Resize(size, transforms.InterpolationMode.NEAREST)(deepgrad.tensor(x))
        np.testing.assert_array_equal(ours.numpy(), tv.transforms.Resize(size, nearest)(torch.tensor(x)).numpy())
    image = rgb(20, 30).transpose(2, 0, 1).copy()
    ours = transforms.Resize((9, 13))(deepgrad.tensor(image))
    theirs = tv.transforms.Resize((9, 13))(torch.tensor(image))
    assert ours.dtype == np.uint8
    assert np.abs(ours.numpy().astype(int) - theirs.numpy().astype(int)).max() <= 1
    ours = transforms.Resize(8, max_size=10)(deepgrad.tensor(x))
    assert ours.shape == tuple(tv.transforms.Resize(8, max_size=10)(torch.tensor(x)).shape) == (3, 6, 10)
    hwc = transforms.Resize((5, 7))(rgb(20, 30))  # an H x W x C array: same numbers as the tensor path
    chw = transforms.Resize((5, 7))(deepgrad.tensor(rgb(20, 30).transpose(2, 0, 1).copy()))
    np.testing.assert_array_equal(hwc, chw.numpy().transpose(1, 2, 0))
    with pytest.raises(ValueError, match="positive int or a pair"):
        transforms.Resize((1, 2, 3))


def test_convert_image_dtype_matches_torchvision(tv, torch):
    cases = [
        (rgb().transpose(2, 0, 1).copy(), deepgrad.float32, torch.float32),
        (floats(3, 4, 4), deepgrad.uint8, torch.uint8),
        (floats(3, 4, 4), deepgrad.float64, torch.float64),
        (rgb().astype(np.int16), deepgrad.uint8, torch.uint8),
        (rgb(), deepgrad.int16, torch.int16),
    ]
    for array, ours_dtype, torch_dtype in cases:
        ours = transforms.ConvertImageDtype(ours_dtype)(deepgrad.tensor(array, dtype=array.dtype))
        theirs = tv.transforms.ConvertImageDtype(torch_dtype)(torch.tensor(array))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours = transforms.ToDtype(deepgrad.float32, scale=True)(deepgrad.tensor(rgb(), dtype=deepgrad.uint8))
    theirs = tv.transforms.v2.ToDtype(torch.float32, scale=True)(torch.tensor(rgb()))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert (
        transforms.ToDtype(deepgrad.float32)(deepgrad.tensor(rgb(), dtype=deepgrad.uint8)).max().item() == rgb().max()
    )
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(deepgrad.zeros(1, 2, 2), deepgrad.int64)


# ---------------------------------------------------------------------------------------------- make_grid, save_image


@pytest.mark.parametrize(
    ("shape", "kwargs"),
    [
        ((10, 3, 5, 4), {}),
        ((10, 1, 5, 4), {"nrow": 3, "padding": 1, "pad_value": 0.5}),
        ((4, 3, 6, 6), {"nrow": 8, "padding": 0}),
        ((1, 3, 6, 6), {}),
        ((3, 6, 6), {}),
        ((1, 6, 6), {}),
        ((6, 6), {}),
        ((7, 3, 4, 4), {"normalize": True}),
        ((7, 3, 4, 4), {"normalize": True, "scale_each": True}),
        ((7, 3, 4, 4), {"normalize": True, "value_range": (0.2, 0.7)}),
    ],
)
def test_make_grid_matches_torchvision(tv, torch, shape, kwargs):
    x = floats(*shape) * 3 - 1
    ours = utils.make_grid(deepgrad.tensor(x), **kwargs)
    theirs = tv.utils.make_grid(torch.tensor(x), **kwargs)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


def test_make_grid_of_a_list_and_errors(tv, torch):
    images = [floats(3, 4, 4, seed=i) for i in range(5)]
    ours = utils.make_grid([deepgrad.tensor(a) for a in images], nrow=2)
    np.testing.assert_array_equal(ours.numpy(), tv.utils.make_grid([torch.tensor(a) for a in images], nrow=2).numpy())
    with pytest.raises(ValueError, match="different shapes"):
        utils.make_grid([deepgrad.zeros(3, 4, 4), deepgrad.zeros(3, 5, 4)])
    with pytest.raises(ValueError, match="nrow must be a positive int"):
        utils.make_grid(deepgrad.zeros(2, 3, 4, 4), nrow=0)
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        utils.make_grid(deepgrad.zeros(2, 3, 4, 4), normalize=True, value_range=[0, 1])


def test_save_image_writes_torchvisions_pixels(tv, torch, tmp_path):
    image_module = pytest.importorskip("PIL.Image")
    x = floats(6, 3, 5, 5)
    utils.save_image(deepgrad.tensor(x), tmp_path / "ours.png", nrow=3)
    tv.utils.save_image(torch.tensor(x), tmp_path / "theirs.png", nrow=3)
    ours = np.asarray(image_module.open(tmp_path / "ours.png"))
    np.testing.assert_array_equal(ours, np.asarray(image_module.open(tmp_path / "theirs.png")))
    assert ours.shape == (2 * 7 + 2, 3 * 7 + 2, 3)


# ---------------------------------------------------------------------------------------------- datasets


def test_mnist_dataset_torchvision_layout_and_items(tv, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    images, labels = write_split(raw, "train", n=6, gz=False, seed=1)
    write_split(raw, "t10k", n=3, gz=False, seed=2)
    to_tensor = transforms.ToTensor()
    ours = datasets.MNIST(tmp_path, train=True, transform=to_tensor)
    theirs = tv.datasets.MNIST(str(tmp_path), train=True, transform=tv.transforms.ToTensor())
    assert len(ours) == len(theirs) == 6
    assert ours.data.dtype == np.uint8 and ours.data.shape == tuple(theirs.data.shape) == (6, 28, 28)
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    np.testing.assert_array_equal(ours.targets.numpy(), theirs.targets.numpy())
    assert ours.targets.dtype == np.int64
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx
    for i in range(6):
        (x, y), (tx, ty) = ours[i], theirs[i]
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        assert y == ty and isinstance(y, int)
    raw_image, label = datasets.MNIST(tmp_path, train=False)[1]
    assert raw_image.dtype == np.uint8 and raw_image.shape == (28, 28) and isinstance(label, int)
    assert "Dataset MNIST" in repr(ours) and "Number of datapoints: 6" in repr(ours) and "ToTensor()" in repr(ours)
    np.testing.assert_array_equal(images, ours.data.numpy())
    np.testing.assert_array_equal(labels, ours.targets.numpy())


def test_mnist_dataset_deepgrad_layout_target_transform_and_loader(tmp_path):
    write_split(tmp_path / "mnist", "train", n=10, gz=True, seed=3)
    pipeline = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(tmp_path, transform=pipeline, target_transform=lambda y: y * 10)
    xb, yb = next(iter(DataLoader(ds, batch_size=4, shuffle=True, seed=0)))
    assert xb.shape == (4, 1, 28, 28) and xb.dtype == np.float32 and yb.dtype == np.int64
    assert set(yb.tolist()) <= {10 * int(t) for t in ds.targets.numpy()}
    np.testing.assert_allclose(
        ds[0][0].numpy(), (ds.data.numpy()[0] / np.float32(255) - 0.1307)[None] / 0.3081, rtol=1e-5
    )
    assert len(DataLoader(ds, batch_size=4)) == 3


def test_fashion_mnist_classes(tv, tmp_path):
    write_split(tmp_path / "FashionMNIST" / "raw", "t10k", n=2, gz=True)
    ds = datasets.FashionMNIST(tmp_path, train=False)
    assert ds.classes == tv.datasets.FashionMNIST.classes and len(ds) == 2


def test_cifar10_dataset(tmp_path):
    written = write_batches(tmp_path / "cifar-10-batches-bin", n=4)
    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
        ]
    )
    train = datasets.CIFAR10(tmp_path, train=True, transform=augment)
    assert len(train) == 20 and train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.data.flags.c_contiguous and isinstance(train.targets, list) and isinstance(train.targets[0], int)
    np.testing.assert_array_equal(train.data[:4], written["data_batch_1.bin"][0].transpose(0, 2, 3, 1))
    assert train.classes[:3] == ["airplane", "automobile", "bird"] and train.class_to_idx["truck"] == 9
    xb, yb = next(iter(DataLoader(train, batch_size=8, shuffle=True, seed=0)))
    assert xb.shape == (8, 3, 32, 32) and xb.dtype == np.float32 and yb.dtype == np.int64
    test = datasets.CIFAR10(tmp_path, train=False, transform=transforms.ToTensor())
    image, label = test[1]
    np.testing.assert_array_equal(image.numpy(), written["test_batch.bin"][0][1] / np.float32(255))
    assert label == int(written["test_batch.bin"][1][1])
    raw, _ = datasets.CIFAR10(tmp_path, train=False)[0]
    assert raw.shape == (32, 32, 3) and raw.dtype == np.uint8


def test_cifar10_dataset_refuses_torchvisions_pickled_folder(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    with pytest.raises(FileNotFoundError, match="pickled.*cifar-10-binary.tar.gz"):
        datasets.CIFAR10(tmp_path)


# ---------------------------------------------------------------------------------------------- batch augmentation


def test_batch_random_crop_draws_an_offset_per_sample():
    images = floats(64, 3, 8, 8)
    out = batch_transforms.random_crop(images, 8, padding=2, generator=np.random.default_rng(0))
    assert out.shape == (64, 3, 8, 8) and out.dtype == np.float32 and out.flags.c_contiguous
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = []
    for n in range(64):
        matches = [
            (i, j) for i in range(5) for j in range(5) if np.array_equal(out[n], padded[n, :, i : i + 8, j : j + 8])
        ]
        assert matches, f"sample {n} is no window of its padded image"
        offsets.append(matches[0])
    assert len(set(offsets)) > 15  # each sample its own offset
    again = batch_transforms.random_crop(images, 8, padding=2, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)


def test_batch_random_crop_tensor_modes_and_errors():
    batch = deepgrad.tensor(floats(5, 2, 6, 6))
    deepgrad.manual_seed(0)
    out = batch_transforms.random_crop(batch, (4, 5), padding=(1, 2), padding_mode="reflect")
    assert isinstance(out, deepgrad.Tensor) and out.shape == (5, 2, 4, 5)
    unchanged = batch_transforms.random_crop(batch, 6)
    np.testing.assert_array_equal(unchanged.numpy(), batch.numpy())
    with pytest.raises(ValueError, match=r"\(N, C, H, W\), got shape \(2, 6, 6\)"):
        batch_transforms.random_crop(floats(2, 6, 6), 4)
    with pytest.raises(ValueError, match=r"crop size \(9, 9\) does not fit images of 8x8"):
        batch_transforms.random_crop(floats(2, 1, 6, 6), 9, padding=1)


def test_batch_horizontal_flip_per_sample():
    images = floats(200, 1, 2, 3)
    out = batch_transforms.random_horizontal_flip(images, 0.5, generator=np.random.default_rng(1))
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, images)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert np.all(flipped | kept) and 70 < flipped.sum() < 130
    np.testing.assert_array_equal(batch_transforms.random_horizontal_flip(images, 1.0), images[..., ::-1])
    np.testing.assert_array_equal(batch_transforms.random_horizontal_flip(images, 0.0), images)


def test_batch_normalize_matches_torchvision(tv, torch):
    x = floats(4, 3, 5, 5)
    mean, std = [0.5, 0.4, 0.3], [0.2, 0.3, 0.25]
    theirs = tv.transforms.Normalize(mean, std)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(batch_transforms.normalize(x, mean, std), theirs, rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match="floating images, got dtype uint8"):
        batch_transforms.normalize(np.zeros((1, 3, 2, 2), np.uint8), mean, std)
    with pytest.raises(ValueError, match="mean has 2 values, the images have 3 channels"):
        batch_transforms.normalize(x, mean[:2], std)


def test_augment_pipeline_is_reproducible_and_resumable():
    images = floats(16, 3, 8, 8)
    augment = batch_transforms.Augment(crop=8, padding=2, flip=0.5, mean=[0.5] * 3, std=[0.25] * 3, seed=3)
    first = augment(images)
    state = augment.state_dict()
    second = augment(images)
    assert not np.array_equal(first, second)
    other = batch_transforms.Augment(crop=8, padding=2, flip=0.5, mean=[0.5] * 3, std=[0.25] * 3, seed=99)
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(images), second)
    assert first.min() < 0 and first.dtype == np.float32
    with pytest.raises(ValueError, match="both mean and std"):
        batch_transforms.Augment(mean=[0.5])


def test_port_style_program(tmp_path):
    """A torchvision-style loop with only the imports changed."""
    torchvision = torchvision_port
    write_split(tmp_path / "MNIST" / "raw", "train", n=12, gz=True)
    transform = torchvision.transforms.Compose(
        [torchvision.transforms.ToTensor(), torchvision.transforms.Normalize((0.1307,), (0.3081,))]
    )
    train_set = torchvision.datasets.MNIST(str(tmp_path), train=True, download=False, transform=transform)
    loader = DataLoader(train_set, batch_size=4, shuffle=True, seed=0)
    model = torchvision.models.LeNet5()
    images, labels = next(iter(loader))
    assert model(images).shape == (4, 10)
    grid = torchvision.utils.make_grid(images, nrow=2, normalize=True)
    assert grid.shape == (3, 2 * 30 + 2, 2 * 30 + 2) and 0.0 <= grid.min().item() <= grid.max().item() <= 1.0


def test_read_image_as_torchvision(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from deepgrad.vision.io import ImageReadMode, decode_image, read_image

    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    Image.fromarray(pixels).save(tmp_path / "rgb.png")
    image = read_image(tmp_path / "rgb.png")
    assert image.dtype == np.uint8 and image.shape == (3, 4, 5)
    np.testing.assert_array_equal(image.array, pixels.transpose(2, 0, 1))
    gray = read_image(str(tmp_path / "rgb.png"), ImageReadMode.GRAY)
    assert gray.shape == (1, 4, 5)
    encoded = np.frombuffer((tmp_path / "rgb.png").read_bytes(), dtype=np.uint8)
    np.testing.assert_array_equal(decode_image(encoded).array, image.array)
    try:
        tv = import_torchvision()
        theirs = tv.io.read_image(str(tmp_path / "rgb.png"))
    except Exception:  # torchvision's image decoders are C++ ops, missing beside the CPU torch
        theirs = None
    if theirs is not None:
        np.testing.assert_array_equal(image.array, theirs.numpy())
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.png: not an image"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="is not a regular file"):
        read_image(tmp_path)
