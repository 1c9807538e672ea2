"""Training: the `fit`/`evaluate` loop, metrics, callbacks (early stopping, checkpoints), plots, and whole
runs from a typed config (`run(TrainConfig) -> TrainResult`, `evaluate_weights`, `model_summary`)."""

from deepgrad.train.callbacks import Callback, ConvergenceStop, EarlyStopping
from deepgrad.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from deepgrad.train.config import DataConfig, EvalConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig
from deepgrad.train.loop import EvaluationResult, History, TrainingState, evaluate, fit
from deepgrad.train.metrics import accuracy, confusion_matrix
from deepgrad.train.registry import DATASETS, MODELS, DatasetEntry, ModelEntry, ModelSpec
from deepgrad.train.runner import (
    EvalResult,
    ModelSummary,
    TrainingPlan,
    TrainResult,
    evaluate_weights,
    model_summary,
    prepare,
    run,
)

__all__ = [
    "DATASETS",
    "MODELS",
    "Callback",
    "Checkpoint",
    "ConvergenceStop",
    "DataConfig",
    "DatasetEntry",
    "EarlyStopping",
    "EvalConfig",
    "EvalResult",
    "EvaluationResult",
    "History",
    "ModelConfig",
    "ModelEntry",
    "ModelSpec",
    "ModelSummary",
    "OptimConfig",
    "OutputConfig",
    "TrainConfig",
    "TrainResult",
    "TrainingPlan",
    "TrainingState",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "evaluate_weights",
    "fit",
    "load_checkpoint",
    "model_summary",
    "prepare",
    "run",
    "save_checkpoint",
]
