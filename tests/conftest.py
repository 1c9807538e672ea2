import http.server
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

# the helper modules beside the tests (op_specs, nn_helpers, mnist_helpers) import by their plain names
sys.path.insert(0, str(Path(__file__).parent))

import deepgrad  # noqa: E402
import deepgrad.blas  # noqa: E402
import deepgrad.compiled  # noqa: E402


@pytest.fixture(params=["compiled", "numpy"])
def kernel_route(request):
    """Run the test through the ops' compiled kernels (numba; skipped without it) and through their NumPy
    formulations."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        assert deepgrad.compiled.enabled()
        yield "compiled"
    else:
        with deepgrad.compiled.disabled():
            yield "numpy"


@pytest.fixture(params=["one GEMM", "by sample", "shifted", "direct"])
def conv_layout(request, monkeypatch):
    """Run the test with every non-grouped convolution in the one-GEMM im2col layout, then in the per-sample
    layout (``ops.conv.BY_SAMPLE_PARTIALS_BYTES``), then (stride 1) in the shifted-product route
    (``ops.conv.SHIFTED_MIN_CHANNELS``; skipped without a direct BLAS), then (stride 1, numba) in the direct
    compiled convolution (``ops.conv.DIRECT_MAX_TAPS``: forward, weight gradient and the input gradient's gather
    or scatter form), whatever the layer's size would choose."""
    from deepgrad.ops import conv

    if request.param == "direct":
        pytest.importorskip("numba")
        if "kernel_route" in request.fixturenames and request.getfixturevalue("kernel_route") == "numpy":
            pytest.skip("the direct convolution is compiled only: the NumPy route is the other layouts'")
        monkeypatch.setattr(conv, "DIRECT_MAX_TAPS", float("inf"))
    else:
        monkeypatch.setattr(conv, "DIRECT_MAX_TAPS", -1)
    if request.param == "shifted":
        if not deepgrad.blas.available("float32"):
            pytest.skip("no direct BLAS calls in this process (deepgrad.blas.library() is None)")
        monkeypatch.setattr(conv, "SHIFTED_MIN_CHANNELS", 1)
        monkeypatch.setattr(conv, "SHIFTED_MAX_POSITIONS_SHARE", float("inf"))
    else:
        monkeypatch.setattr(conv, "SHIFTED_MIN_CHANNELS", float("inf"))
    if request.param == "by sample":
        monkeypatch.setattr(conv, "BY_SAMPLE_PARTIALS_BYTES", float("inf"))
        monkeypatch.setattr(conv, "BY_SAMPLE_MIN_POSITIONS", 0)
    else:
        monkeypatch.setattr(conv, "BY_SAMPLE_PARTIALS_BYTES", -1)
    yield request.param


@pytest.fixture(autouse=True)
def _seed():
    deepgrad.manual_seed(0)
    np.random.seed(0)
    yield


# A local HTTP server for the download tests (MNIST, CIFAR-10): 127.0.0.1 only.
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/cut/"):  # announce 100 kB, send 100 bytes, hang up: a dropped connection
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"\x00" * 98)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; yields its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", served
    finally:
        httpd.shutdown()
        httpd.server_close()
