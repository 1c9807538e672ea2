"""PyTorch programs run on deepgrad with only the imports changed.

Each program below is written as a tutorial would write it, for PyTorch (``import torch``). `port` changes
only its import lines (``import torch`` -> ``import deepgrad as torch``, ``torch.nn`` -> ``deepgrad.nn``, ...);
the ported program must run to the end, and where PyTorch is installed the original program, run under
PyTorch, must print the same text with the same numbers (to 1e-5). Initial weights come from NumPy, so both
frameworks start from the same values. The deliberate differences and the errors are tested at the end.
"""

from __future__ import annotations

import re
import textwrap
import warnings

import numpy as np
import pytest

import deepgrad
import deepgrad.nn as dnn
import deepgrad.nn.functional as DF

# where each PyTorch module lives in deepgrad (the rest: torch.X -> deepgrad.X)
MODULES = [("torch.utils.data", "deepgrad.data"), ("torchvision", "deepgrad.vision"), ("torch", "deepgrad")]
IMPORT_LINE = re.compile(r"^(\s*)(import|from)\s+(torchvision|torch)((?:\.\w+)*)(.*)$")


def port(source: str) -> str:
    """The program with its import lines changed to deepgrad's, and nothing else:
    ``import torch`` -> ``import deepgrad as torch``, ``import torch.nn as nn`` -> ``import deepgrad.nn as nn``,
    ``from torch.utils.data import X`` -> ``from deepgrad.data import X``, torchvision -> deepgrad.vision."""
    lines = []
    for line in source.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            indent, keyword, root, path, rest = match.groups()
            module = root + path
            for theirs, ours in MODULES:
                if module == theirs or module.startswith(theirs + "."):
                    module = ours + module[len(theirs) :]
                    break
            if keyword == "import" and not rest.strip().startswith("as"):
                rest = f" as {root + path}{rest}"  # `import torch` binds the name torch
            line = f"{indent}{keyword} {module}{rest}"
        lines.append(line)
    return "\n".join(lines)


def run(source: str) -> list[str]:
    """Execute a program and return what it printed, line by line."""
    printed: list[str] = []

    def capture(*values: object, sep: str = " ", **_: object) -> None:
        printed.append(sep.join(str(v) for v in values))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, "<program>", "exec"), {"print": capture, "__name__": "__program__"})
    return printed


NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan")


def assert_same_output(ours: list[str], theirs: list[str]) -> None:
    assert len(ours) == len(theirs), (ours, theirs)
    for line_ours, line_theirs in zip(ours, theirs):
        assert NUMBER.sub("#", line_ours) == NUMBER.sub("#", line_theirs), (line_ours, line_theirs)
        numbers_ours = [float(n) for n in NUMBER.findall(line_ours)]
        numbers_theirs = [float(n) for n in NUMBER.findall(line_theirs)]
        np.testing.assert_allclose(numbers_ours, numbers_theirs, rtol=1e-5, atol=1e-6, err_msg=line_ours)


def check_program(source: str, tmp_path, monkeypatch, needs: str = "torch") -> list[str]:
    source = textwrap.dedent(source)
    monkeypatch.chdir(tmp_path)
    ours = run(port(source))
    try:
        __import__(needs)
    except Exception:
        return ours  # no PyTorch (or torchvision) to compare with: running to the end is the test
    assert_same_output(ours, run(source))
    return ours


# ---------------------------------------------------------------------------------------------------
# one program per idiom

DEVICES = """
import torch
import torch.nn as nn

device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
print(f"Using {device} device", torch.cuda.device_count(), torch.accelerator.is_available())
accelerator = torch.accelerator.current_accelerator()
device = torch.device(accelerator.type if accelerator is not None else "cpu")
torch.set_default_device(device)
x = torch.ones(2, 3, device=device) + torch.zeros(2, 3, device="cpu")
y = torch.arange(3, device=device).float() * torch.linspace(0, 1, 3, device=device)
z = torch.full((2,), 1.5, device=device) + torch.randn(2, device=device) * 0 + torch.rand(2, device=device) * 0
w = torch.zeros_like(x, device=device) + torch.ones_like(x, device=device) + torch.eye(2, 3, device=device)
print(x.device, x.to(device).cpu().sum().item(), y.tolist(), z.tolist(), w.sum().item())
print(str(x.device) == "cpu", x.device.type, x.is_cuda, torch.tensor([1.0], device=device).device == device)
model = nn.Linear(3, 1).to(device)
print(next(model.parameters()).device.type)
"""


def test_devices(tmp_path, monkeypatch):
    check_program(DEVICES, tmp_path, monkeypatch)


TENSOR_API = """
import numpy as np
import torch

a = torch.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
b = torch.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
print(a.mm(b).tolist(), torch.mm(a, b).sum().item())
print(a.type(torch.float64).dtype == torch.float64, a.type(), a.long().type(), a.type("torch.DoubleTensor").type())
print(a.new_ones(2).tolist(), a.new_zeros((1, 2)).tolist(), a.new_full((2,), 7).tolist(), a.new_empty(3).shape[0])
print(a.new_tensor([1, 2]).dtype == torch.float32, a.long().new_tensor([1, 2]).dtype == torch.int64)
print(isinstance(a.size(), torch.Size), isinstance(a.shape, tuple), list(a.size()), a.size(1), a.shape.numel())
print(a.size() == (2, 3), list(a.shape[1:]), len(a.shape))
"""


def test_tensor_type_mm_new_and_size(tmp_path, monkeypatch):
    check_program(TENSOR_API, tmp_path, monkeypatch)


SCATTER = """
import torch

labels = torch.tensor([2, 0, 3])
one_hot = torch.zeros(3, 4).scatter_(1, labels.unsqueeze(1), 1.0)
print(one_hot.tolist())
src = torch.arange(1, 11).reshape((2, 5)).float()
index = torch.tensor([[0, 1, 2, 0]])
print(torch.zeros(3, 5).scatter_(0, index, src).tolist())
print(torch.zeros(3, 5).scatter_add_(0, torch.tensor([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]]), src).tolist())
print(torch.ones(2, 4).scatter_(1, torch.tensor([[1, 1], [3, 0]]), 2.0, reduce="add").tolist())
x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
s = torch.tensor([[10.0, 20.0], [30.0, 40.0]], requires_grad=True)
y = x.scatter(1, torch.tensor([[2, 0], [1, 2]]), s)
z = x.scatter_add(1, torch.tensor([[0, 0], [1, 2]]), s)
(y * torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]) + z * 0.5).sum().backward()
print(y.tolist(), z.tolist(), x.grad.tolist(), s.grad.tolist())
"""


def test_scatter(tmp_path, monkeypatch):
    check_program(SCATTER, tmp_path, monkeypatch)


OUT_ARGUMENT = """
import torch

a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
b = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
c = torch.empty(2, 2)
torch.add(a, b, out=c)
print(c.tolist())
torch.mul(a, b, out=c)
print(c.tolist())
r = torch.matmul(a, b, out=c)
print(c.tolist(), r is c)
torch.add(a, b, alpha=2, out=c)
print(c.tolist(), torch.sub(a, b, alpha=0.5).tolist())
torch.exp(torch.zeros(2, 2), out=c)
print(c.tolist())
"""


def test_out_argument(tmp_path, monkeypatch):
    check_program(OUT_ARGUMENT, tmp_path, monkeypatch)


MANUAL_SGD_WITH_DATA = """
import numpy as np
import torch

rng = np.random.default_rng(0)
x = torch.tensor(rng.standard_normal((8, 3)).astype(np.float32))
y = torch.tensor(rng.standard_normal((8, 1)).astype(np.float32))
w = torch.tensor(rng.standard_normal((3, 1)).astype(np.float32), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
for step in range(5):
    loss = ((x.mm(w) + b - y) ** 2).mean()
    loss.backward()
    for p in (w, b):
        p.data -= 0.1 * p.grad.data
        p.grad.data.zero_()
    print(f"step {step}: loss {loss.item():.6f}, |w| {w.data.norm().item():.6f}")
"""


def test_data_is_a_tensor_sharing_storage(tmp_path, monkeypatch):
    check_program(MANUAL_SGD_WITH_DATA, tmp_path, monkeypatch)


GRAD_FN = """
import torch
import torch.nn as nn
import torch.nn.functional as F

def name(node):
    return None if node is None else str(node).split()[0].strip("<>")

x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
y = torch.tensor([0.5, 0.5, 0.5])
z = x * y
print(name(z.grad_fn), [(name(f), i) for f, i in z.grad_fn.next_functions])
loss = z.sum()
print(name(loss.grad_fn), [name(f) for f, _ in loss.grad_fn.next_functions])
print(name(z.mean().grad_fn), name(nn.MSELoss()(z, y).grad_fn), name(F.mse_loss(z, y).grad_fn))
print(name((x + y).grad_fn), name((x - y).grad_fn), name((x / 2).grad_fn), name(x.exp().grad_fn))
print(name(x.relu().grad_fn), name(torch.sigmoid(x).grad_fn), name(x.tanh().grad_fn), name(x.log().grad_fn))
logits = x.reshape(1, 3)
print(name(F.cross_entropy(logits, torch.tensor([1])).grad_fn), name(F.log_softmax(logits, 1).grad_fn))
print(name(x.unsqueeze(0).grad_fn), name(x.reshape(3, 1).t().grad_fn), name(x.std().grad_fn))
print(x.grad_fn, x.is_leaf, z.is_leaf)
"""


def test_grad_fn_names_and_next_functions(tmp_path, monkeypatch):
    check_program(GRAD_FN, tmp_path, monkeypatch)


DTYPES_AND_RELU = """
import numpy as np
import torch

print(torch.tensor(np.ones(2)).dtype == torch.float64, torch.tensor(np.ones(2, np.float32)).dtype == torch.float32)
print(torch.tensor(1.5).dtype == torch.float32, torch.tensor([1.0, 2.0]).dtype == torch.float32)
print(torch.tensor(np.float64(1.0)).dtype == torch.float64, torch.tensor(3).dtype == torch.int64)
print(torch.from_numpy(np.zeros(2)).dtype == torch.float64, torch.as_tensor(np.ones(3)).dtype == torch.float64)
print(1 / torch.relu(torch.tensor(-1.0)), (1 / torch.relu(torch.tensor([-2.0, 0.0, 3.0]))).tolist())
print(torch.nn.functional.relu(torch.tensor([-0.5, 0.5])).tolist(), torch.nn.ReLU()(torch.tensor([-3.0])).item())
"""


def test_dtype_inference_and_relu_without_negative_zero(tmp_path, monkeypatch):
    check_program(DTYPES_AND_RELU, tmp_path, monkeypatch)


LEGACY = """
import numpy as np
import torch
import torch.nn as nn
from torch.autograd import Variable

x = Variable(torch.tensor(np.array([1.0, 2.0, 3.0], np.float32)), requires_grad=True)
target = torch.tensor([0.0, 2.5, 2.0])
loss = nn.MSELoss(size_average=False)(x, target)
loss.backward()
print(loss.item(), x.grad.tolist(), x.requires_grad)
print(nn.L1Loss(reduce=False)(x, target).tolist())
print(nn.functional.mse_loss(x, target, size_average=True).item())
print(nn.CrossEntropyLoss(reduce=True, size_average=False)(x.reshape(1, 3), torch.tensor([2])).item())
"""


def test_legacy_variable_and_size_average(tmp_path, monkeypatch):
    check_program(LEGACY, tmp_path, monkeypatch)


ADADELTA = """
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

rng = np.random.default_rng(1)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.5))
x = torch.tensor(rng.standard_normal((16, 4)).astype(np.float32))
y = torch.tensor(rng.integers(0, 3, 16))
optimizer = optim.Adadelta(model.parameters(), lr=1.0, rho=0.9, weight_decay=0.01)
loss_fn = nn.CrossEntropyLoss()
for epoch in range(8):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    print(f"epoch {epoch}: loss {loss.item():.6f}")
"""


def test_adadelta_training(tmp_path, monkeypatch):
    check_program(ADADELTA, tmp_path, monkeypatch)


DATALOADER = """
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

data = TensorDataset(torch.tensor(np.arange(20, dtype=np.float32).reshape(10, 2)), torch.arange(10))
loader = DataLoader(data, batch_size=4, shuffle=False, num_workers=2, pin_memory=False,
                    persistent_workers=True, prefetch_factor=2, drop_last=False)
for epoch in range(2):
    for xb, yb in loader:
        print(epoch, xb.sum().item(), yb.tolist())
print(len(loader))
"""


def test_dataloader_worker_options(tmp_path, monkeypatch):
    check_program(DATALOADER, tmp_path, monkeypatch)


SAVE_AND_LOAD = """
import numpy as np
import torch
from torch import nn

class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))

rng = np.random.default_rng(2)
model = NeuralNetwork()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
torch.save(model.state_dict(), "model_weights.pth")
restored = NeuralNetwork()
restored.load_state_dict(torch.load("model_weights.pth", weights_only=True, map_location="cpu"))
restored.eval()
x = torch.tensor(rng.standard_normal((3, 2, 2)).astype(np.float32))
with torch.no_grad():
    print(restored(x).tolist(), bool((restored(x) == model(x)).all()))
print(list(restored.state_dict().keys()))
"""


def test_save_and_load_state_dict(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    check_program(SAVE_AND_LOAD, tmp_path, monkeypatch)


VISION = """
import numpy as np
import torch
import torchvision
from torchvision import transforms

transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), transforms.Lambda(lambda t: t * 2)]
)
image = (np.arange(4 * 4 * 3) * 5 % 256).astype(np.uint8).reshape(4, 4, 3)
x = transform(image)
print(list(x.shape), round(x.sum().item(), 4), round(x.max().item(), 4))
grid = torchvision.utils.make_grid(torch.stack([x, -x]), nrow=2, padding=1)
print(list(grid.shape), round(grid.sum().item(), 4))
"""


def test_vision_transforms_and_make_grid(tmp_path, monkeypatch):
    check_program(VISION, tmp_path, monkeypatch, needs="torchvision")


# ---------------------------------------------------------------------------------------------------
# deliberate differences and clear errors


UTILS_DATA_AND_LEGACY = """
import numpy as np
import torch

features = torch.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(6, 2))
labels = torch.LongTensor([0, 1, 0, 1, 1, 0])
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(features, labels), batch_size=4)
for xb, yb in loader:
    print(list(xb.shape), yb.tolist(), yb.dtype == torch.int64)
w = torch.FloatTensor([0.5, -0.25])
print(w.dtype == torch.float32, torch.DoubleTensor([1, 2]).dtype == torch.float64, list(torch.FloatTensor(2, 3).shape))
x = torch.linspace(-1, 1, 5)
print(torch.matmul(input=x, other=x).item(), torch.matmul(x, other=x.pow(2)).item())
"""


def test_utils_data_legacy_constructors_and_matmul_keywords(tmp_path, monkeypatch):
    check_program(UTILS_DATA_AND_LEGACY, tmp_path, monkeypatch)


def test_assigning_a_non_tensor_to_grad_raises_type_error():
    torch = pytest.importorskip("torch")
    for module in (deepgrad, torch):
        x = module.ones(2, requires_grad=True)
        with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
            x.grad = 0.0
        x.grad = module.full((2,), 3.0)
        x.grad = None
        assert x.grad is None


def test_cuda_raises_one_clear_line():
    for call in (
        lambda: deepgrad.ones(2).to("cuda"),
        lambda: deepgrad.ones(2).cuda(),
        lambda: deepgrad.zeros(2, device="cuda"),
        lambda: dnn.Linear(2, 2).cuda(),
        lambda: dnn.Linear(2, 2).to(deepgrad.device("cuda")),
        lambda: deepgrad.set_default_device("cuda:0"),
        deepgrad.cuda.current_device,
    ):
        with pytest.raises(ValueError, match="no CUDA device here: deepgrad runs on the CPU only") as error:
            call()
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="CPU only, got device 'mps'"):
        deepgrad.tensor([1.0], device="mps")
    with pytest.raises(ValueError, match="unknown device type 'gpu'"):
        deepgrad.device("gpu")
    assert deepgrad.device("cuda", 1) == "cuda:1" and repr(deepgrad.device("cuda:1")) == "device(type='cuda', index=1)"


def test_save_refuses_a_module_and_warns_on_torch_names(tmp_path):
    pytest.importorskip("safetensors")
    model = dnn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"save `model.state_dict\(\)`"):
        deepgrad.save(model, tmp_path / "model.pth")
    with pytest.warns(UserWarning, match="safetensors format.*torch.load cannot read"):
        deepgrad.save(model.state_dict(), tmp_path / "model.pth")
    assert set(deepgrad.load(tmp_path / "model.pth", weights_only=True)) == {"weight", "bias"}
    with pytest.raises(ValueError, match="never unpickles"):
        deepgrad.load(tmp_path / "model.pth", weights_only=False)
    with pytest.raises(ValueError, match="CPU only"):
        deepgrad.load(tmp_path / "model.pth", map_location="cuda:0")


def test_legacy_forms_warn_naming_the_modern_form():
    with pytest.warns(DeprecationWarning, match=r"use reduction='sum' instead"):
        assert dnn.MSELoss(size_average=False).reduction == "sum"
    with pytest.warns(DeprecationWarning, match=r"use reduction='none' instead"):
        assert dnn.CrossEntropyLoss(reduce=False).reduction == "none"
    with pytest.warns(DeprecationWarning, match=r"nll_loss: size_average and reduce are deprecated"):
        DF.nll_loss(deepgrad.zeros(2, 3), deepgrad.tensor([0, 1]), size_average=True)
    with pytest.warns(DeprecationWarning, match=r"requires_grad_\(True\)"):
        v = deepgrad.autograd.Variable(deepgrad.ones(2), requires_grad=True)
    assert v.requires_grad and v.is_leaf


def test_out_refuses_to_lose_a_gradient_and_checks_the_shape():
    a = deepgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
        deepgrad.mul(a, 2.0, out=deepgrad.empty(2))
    with pytest.raises(ValueError, match=r"out has shape \(3,\), but the result has shape \(2,\)"):
        deepgrad.add(deepgrad.ones(2), 1.0, out=deepgrad.empty(3))
    out = deepgrad.tensor([], dtype=deepgrad.float32)
    assert deepgrad.add(deepgrad.ones(2), 1.0, out=out) is out and out.tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="mm: both operands must be 2-d"):
        deepgrad.ones(3).mm(deepgrad.ones(3, 1))


def test_scatter_gradients_by_gradcheck_and_errors():
    rng = np.random.default_rng(0)
    x = deepgrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = deepgrad.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    index = deepgrad.tensor([[0, 1, 2, 0], [2, 2, 1, 1]])
    assert deepgrad.autograd.gradcheck(lambda a, b: a.scatter(0, index, b), (x, src))
    assert deepgrad.autograd.gradcheck(lambda a, b: a.scatter_add(0, index, b), (x, src))
    with pytest.raises(IndexError, match="scatter_: index out of range for dimension 1 of size 4"):
        deepgrad.zeros(2, 4).scatter_(1, deepgrad.tensor([[4]]), 1.0)
    with pytest.raises(ValueError, match="index must be an integer tensor"):
        deepgrad.zeros(2, 4).scatter_(1, deepgrad.tensor([1, 2]), 1.0)
    with pytest.raises(RuntimeError, match="scatter_: in-place update of a leaf tensor that requires grad"):
        x.scatter_(0, index, 1.0)


def test_dataloader_worker_options_are_checked_as_pytorch_does():
    data = deepgrad.data.TensorDataset(np.zeros((4, 1), np.float32))
    with pytest.raises(ValueError, match="persistent_workers=True needs num_workers > 0"):
        deepgrad.data.DataLoader(data, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor can only be given with num_workers > 0"):
        deepgrad.data.DataLoader(data, prefetch_factor=2)
    with pytest.raises(ValueError, match="num_workers must be a non-negative int"):
        deepgrad.data.DataLoader(data, num_workers=-1)
    started = []
    loader = deepgrad.data.DataLoader(data, batch_size=2, num_workers=2, worker_init_fn=started.append)
    assert [len(b[0]) for b in loader] == [2, 2] and started == [0, 1]
    list(loader)
    assert started == [0, 1, 0, 1]  # workers start again every epoch unless persistent


def test_size_is_a_tuple_with_numel():
    size = deepgrad.zeros(2, 3, 4).size()
    assert isinstance(size, deepgrad.Size) and isinstance(size, tuple) and size == (2, 3, 4)
    assert size.numel() == 24 and isinstance(size[1:], deepgrad.Size) and size[0] == 2


RESIDUAL_BLOCK_IN_PLACE = """
import numpy as np
import torch
import torch.nn as nn

class BasicBlock(nn.Module):  # as torchvision writes it: ReLU(inplace=True) and `out += identity`
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)

block = BasicBlock(3).double()
rng = np.random.default_rng(0)
with torch.no_grad():
    for p in block.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)) * 0.3))
x = torch.tensor(rng.standard_normal((2, 3, 4, 4)), requires_grad=True)
y = block(x)
print(y.grad_fn is not None, round(y.sum().item(), 8))
hidden = x.sum(dim=(2, 3)) * 2  # a graph tensor updated in place, then used
scale = hidden * 3  # read before the update: its gradient still reaches the old value
hidden.mul_(x.mean(dim=(2, 3)))
hidden.relu_()
buffer = torch.zeros(3, 3, dtype=torch.float64)
buffer[0] = hidden[0]
buffer[1:] = hidden[[1, 0]]
loss = (y * y).sum() + (buffer * buffer).sum() + scale.sum()
loss.backward()
print(round(loss.item(), 6), np.round(x.grad.numpy().sum(axis=(2, 3)), 6).tolist())
print(np.round(block.conv1.weight.grad.numpy().sum(axis=(1, 2, 3)), 6).tolist())
"""


def test_residual_block_and_in_place_updates_in_the_graph(tmp_path, monkeypatch):
    check_program(RESIDUAL_BLOCK_IN_PLACE, tmp_path, monkeypatch)


CUSTOM_OPTIMIZER = """
import math
import numpy as np
import torch
import torch.nn as nn

class PlainAdam(torch.optim.Optimizer):  # written the way PyTorch's own optimizers were, with in-place updates
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"] != 0:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias1, bias2 = 1 - beta1 ** state["step"], 1 - beta2 ** state["step"]
                denom = (exp_avg_sq.sqrt() / math.sqrt(bias2)).add_(group["eps"])
                p.addcdiv_(exp_avg, denom, value=-group["lr"] / bias1)
                p.clamp_(-2.0, 2.0)

rng = np.random.default_rng(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)) * 0.5))
        p.lerp_(torch.zeros_like(p), 0.1)  # shrink the start a little, in place
x = torch.tensor(rng.standard_normal((16, 4)))
y = torch.tensor(rng.standard_normal((16, 1)))
opt = PlainAdam(model.parameters(), lr=0.05, weight_decay=1e-3)
for step in range(5):
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    print(step, round(loss.item(), 8))
print(np.round(model[0].weight.detach().numpy().sum(), 8), np.round(model[2].bias.detach().numpy(), 8).tolist())
"""


def test_custom_optimizer_with_in_place_updates(tmp_path, monkeypatch):
    check_program(CUSTOM_OPTIMIZER, tmp_path, monkeypatch)
