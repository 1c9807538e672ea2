"""``torch.utils``'s counterpart: ``deepgrad.utils.data`` is `deepgrad.data`, so a port's
``torch.utils.data.DataLoader(...)`` (with ``import deepgrad as torch``) runs unchanged.

>>> import deepgrad
>>> deepgrad.utils.data.DataLoader is deepgrad.data.DataLoader
True
"""

from __future__ import annotations

import sys

from deepgrad import data

# The same module object under PyTorch's path, so `import deepgrad.utils.data` finds it as well.
sys.modules[__name__ + ".data"] = data

__all__ = ["data"]
