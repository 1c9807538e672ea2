"""Training: the `fit`/`evaluate` loop, metrics, callbacks (early stopping, checkpoints) and plots."""

from deepgrad.train.callbacks import Callback, ConvergenceStop, EarlyStopping
from deepgrad.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from deepgrad.train.loop import EvaluationResult, History, TrainingState, evaluate, fit
from deepgrad.train.metrics import accuracy, confusion_matrix

__all__ = [
    "Callback",
    "Checkpoint",
    "ConvergenceStop",
    "EarlyStopping",
    "EvaluationResult",
    "History",
    "TrainingState",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
