"""torchvision 0.28 as the model-zoo and transforms oracle, imported the one way that works beside the CPU torch."""

import sys

import pytest

_torchvision_library = None  # keeps the schema definitions alive


def import_torchvision():
    """torchvision, or skip. With the CPU torch its import fails registering fake kernels for two C++ ops it
    expects from its own (CUDA-built) library: define their schemas first; its models and transforms are
    pure Python."""
    global _torchvision_library
    torch = pytest.importorskip("torch")
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision is not installed")
    except RuntimeError:
        _torchvision_library = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            try:
                _torchvision_library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            except RuntimeError:
                pass  # already defined
        import torchvision
    return torchvision
