"""Optimizers (`SGD`, `Adam`, `AdamW`, `Adamax`, `NAdam`, `RAdam`, `RMSprop`, `Adagrad`, `Adadelta`) and
learning-rate schedules (`lr_scheduler`).

>>> import deepgrad
>>> from deepgrad import optim
>>> w = deepgrad.tensor([3.0], requires_grad=True)
>>> opt = optim.SGD([w], lr=0.25)
>>> for _ in range(3):
...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
>>> w  # each step multiplies w by 1 - 0.25 * 2
tensor([0.375], requires_grad=True)
"""

from __future__ import annotations

from deepgrad.optim import lr_scheduler
from deepgrad.optim.adadelta import Adadelta
from deepgrad.optim.adagrad import Adagrad
from deepgrad.optim.adam import Adam, AdamW
from deepgrad.optim.adam_variants import Adamax, NAdam, RAdam
from deepgrad.optim.optimizer import Optimizer
from deepgrad.optim.rmsprop import RMSprop
from deepgrad.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "lr_scheduler",
]
