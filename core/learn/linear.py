"""A linear classifier on a frozen network's features, saved as an ordinary ModelDirectory.

The engine of Train Linear Image Classifier (cvtk's "SVM on DNN features"):

1. the network of the untrained model (pretrained weights, or random weights from the seed) is
   run once over the training and validation images, and its penultimate features are kept in
   memory (:mod:`visionblocks.learn.features`);
2. scikit-learn fits a multinomial logistic regression or a linear SVM on the standardized
   features;
3. a temperature ``T`` is fitted on held-out decision values (the validation images, or
   out-of-fold predictions of the training images) so that ``softmax(decision / T)`` gives
   calibrated probabilities;
4. standardization, classifier and temperature are all affine in the features, so they fold into
   one Linear layer, ``W' = W / (sigma T)`` and ``b' = (b - W mu / sigma) / T``, which replaces the
   network's last layer. The result is the network's own state dict: Score Image Model, Evaluate
   Model, the web service and every other consumer of a ModelDirectory read it unchanged, and its
   softmax is exactly the calibrated classifier's probability.

For two classes scikit-learn gives one decision value ``z`` (for the second class); the layer gets
the two rows ``-z/2`` and ``z/2``, whose softmax is ``sigmoid(z)``.
"""

from __future__ import annotations

import contextlib
import csv
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from visionblocks import errors
from visionblocks.data.loading import ImageDataset
from visionblocks.learn import features as feats
from visionblocks.learn import models, precision as prec
from visionblocks.learn.choices import LINEAR_CLASSIFIERS
from visionblocks.learn.train import METRICS_FILE, check_input_size
from visionblocks.learn.train_data import open_datasets
from visionblocks.progress import Progress

LOGISTIC_REGRESSION, LINEAR_SVM = LINEAR_CLASSIFIERS
# Folds of the out-of-fold decision values that calibrate without a validation set.
CALIBRATION_FOLDS = 5
# Solver iterations: standardized features converge well within this; more only costs time.
MAX_ITERATIONS = 2000
# The temperature is searched over exp([-LOG_T_RANGE, LOG_T_RANGE]).
LOG_T_RANGE = 7.0
# Fits whose one pass over the features (images x features x classes multiply-adds) is smaller run
# their BLAS calls on one thread: for such small products, threads cost more in start-up and
# synchronization than they save, and on a busy machine spinning BLAS threads made fits many
# times slower (the figures are in DESIGN.md).
SINGLE_THREAD_MAX_WORK = 1 << 27


@dataclass
class LinearConfig:
    """Train Linear Image Classifier's parameters."""

    classifier: str = LOGISTIC_REGRESSION
    c: float = 1.0
    batch_size: int = 32
    seed: int = 1
    precision: str = "auto"
    num_workers: int | None = None  # None: picked for this machine and data


@dataclass
class LinearHead:
    """The folded layer and how it was calibrated."""

    weight: np.ndarray  # classes x features
    bias: np.ndarray  # classes
    temperature: float
    calibrated_on: str  # "validation", "cross-validation" or "training"

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias


# -- fitting -------------------------------------------------------------------------------

def make_estimator(cfg: LinearConfig):
    """The scikit-learn pipeline: standardization, then the chosen linear model."""
    if cfg.classifier == LOGISTIC_REGRESSION:
        model = LogisticRegression(C=cfg.c, max_iter=MAX_ITERATIONS, random_state=cfg.seed)
    elif cfg.classifier == LINEAR_SVM:
        # The dual solver (LinearSVC's default until scikit-learn 1.3, which the 2018 package used):
        # on features that nearly separate the classes, the primal one ("auto" picks it when there
        # are more images than features) ran into its iteration limit many times slower.
        model = LinearSVC(C=cfg.c, dual=True, max_iter=MAX_ITERATIONS, random_state=cfg.seed)
    else:
        raise errors.NotInRangeValueError(
            f"classifier {cfg.classifier!r} is not one of {', '.join(LINEAR_CLASSIFIERS)}.")
    return make_pipeline(StandardScaler(), model)


def decision_logits(decision: np.ndarray) -> np.ndarray:
    """scikit-learn's decision values as one logit per class (two classes: ``-z/2, z/2``)."""
    decision = np.asarray(decision, dtype=np.float64)
    if decision.ndim == 1:
        return np.stack([-decision / 2, decision / 2], axis=1)
    return decision


def log_loss(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)``."""
    return float(-log_softmax(logits / temperature, axis=1)[np.arange(len(targets)), targets].mean())


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The ``T`` that minimizes the log loss of ``softmax(logits / T)`` on held-out data; 1 when no
    ``T`` does better than 1. One scalar cannot change which class wins, only how sure it is."""
    found = minimize_scalar(lambda log_t: log_loss(logits, targets, float(np.exp(log_t))),
                            bounds=(-LOG_T_RANGE, LOG_T_RANGE), method="bounded")
    temperature = float(np.exp(found.x))
    return temperature if log_loss(logits, targets, temperature) <= log_loss(logits, targets) else 1.0


def held_out_logits(cfg: LinearConfig, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Decision values of images the classifier did not see, for calibration without a validation
    set: out-of-fold predictions when every class has at least two images, else (a last resort that
    the metrics name) the training images' own values."""
    folds = min(CALIBRATION_FOLDS, int(np.bincount(y).min()))
    if folds < 2:
        return decision_logits(make_estimator(cfg).fit(x, y).decision_function(x)), y, "training"
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=cfg.seed)
    decision = cross_val_predict(make_estimator(cfg), x, y, cv=splitter, method="decision_function")
    return decision_logits(decision), y, "cross-validation"


def fold_layer(estimator, temperature: float) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) of one Linear layer computing ``decision(x) / T`` from raw features ``x``."""
    scaler, model = estimator[0], estimator[-1]
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    if coef.shape[0] == 1:  # two classes: one decision value for the second class
        coef, intercept = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    scale = np.asarray(scaler.scale_, dtype=np.float64)
    mean = np.asarray(scaler.mean_, dtype=np.float64)
    weight = coef / scale
    bias = intercept - weight @ mean
    return weight / temperature, bias / temperature


def fit_head(cfg: LinearConfig, x: np.ndarray, y: np.ndarray, num_classes: int,
             val: tuple[np.ndarray, np.ndarray] | None = None) -> LinearHead:
    """Fit the classifier on ``(x, y)``, calibrate it (on ``val`` when given) and fold it."""
    check_classes(y, num_classes)
    small = x.shape[0] * x.shape[1] * num_classes <= SINGLE_THREAD_MAX_WORK
    with threadpool_limits(1, user_api="blas") if small else contextlib.nullcontext():
        return _fit_head(cfg, x, y, val)


def _fit_head(cfg: LinearConfig, x: np.ndarray, y: np.ndarray,
              val: tuple[np.ndarray, np.ndarray] | None) -> LinearHead:
    estimator = make_estimator(cfg).fit(x, y)
    if val is not None:
        logits, targets, source = decision_logits(estimator.decision_function(val[0])), val[1], "validation"
    else:
        logits, targets, source = held_out_logits(cfg, x, y)
    temperature = fit_temperature(logits, targets)
    weight, bias = fold_layer(estimator, temperature)
    return LinearHead(weight, bias, temperature, source)


def check_classes(y: np.ndarray, num_classes: int, names: list[str] | None = None) -> None:
    """Every class needs a training image: a class never seen has no weights to fit."""
    counts = np.bincount(y, minlength=num_classes)
    if num_classes < 2:
        raise errors.InvalidDatasetError("A classifier needs at least two classes; the training data has one.")
    missing = np.flatnonzero(counts == 0).tolist()
    if missing:
        shown = [names[i] for i in missing] if names else missing
        raise errors.InvalidDatasetError(
            f"{len(missing)} class(es) have no training image: {', '.join(map(str, shown))}.",
            hint="Give every class training images, for example by splitting with Stratified split on.")


# -- the whole run -------------------------------------------------------------------------

@dataclass
class LinearResult:
    metrics: dict
    head: LinearHead


def train_linear(cfg: LinearConfig, untrained: dict, train_dir: Path, val_dir: Path | None, out_dir: Path,
                 device: torch.device | str = "cpu", progress: Progress | None = None) -> LinearResult:
    """Fit a linear classifier on the features of ``untrained``'s network and write a ModelDirectory."""
    progress = progress or Progress(quiet=True)
    device = torch.device(device)
    train_set, val_set = open_datasets(Path(train_dir), Path(val_dir) if val_dir else None)
    classes = train_set.classes
    check_classes(np.asarray(train_set.targets), len(classes), classes)
    inference_set = ImageDataset(train_set.directory, mode="inference")
    input_size = list(inference_set[0][0].shape)
    precision = prec.resolve_precision(cfg.precision, device)

    torch.manual_seed(cfg.seed)  # the network's weights when it starts from random ones
    model = models.build_model(untrained, len(classes)).to(device).eval()
    check_input_size(model, input_size, untrained["architecture"], device)
    network = feats.backbone(model, untrained["architecture"])
    progress.log(f"{untrained['architecture']} features of {len(inference_set)} training"
                 + (f" and {len(val_set)} validation" if val_set is not None else "")
                 + f" images; {device}, {precision.reason}")
    train_features = feats.extract(network, inference_set, device, precision, cfg.batch_size, progress,
                                   "training features", cfg.num_workers)
    val_features = (feats.extract(network, val_set, device, precision, cfg.batch_size, progress,
                                  "validation features", cfg.num_workers) if val_set is not None else None)
    feature_seconds = train_features.seconds + (val_features.seconds if val_features is not None else 0.0)
    images = len(train_features.values) + (len(val_features.values) if val_features is not None else 0)
    progress.log(f"features: {images} images x {train_features.values.shape[1]} values in {feature_seconds:.1f} s "
                 f"({images / max(feature_seconds, 1e-9):.1f} images/s)")

    started = time.perf_counter()
    val = (val_features.values, val_features.targets) if val_features is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        head = fit_head(cfg, train_features.values, train_features.targets, len(classes), val)
    fit_seconds = time.perf_counter() - started
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:  # only the solver's own warning becomes a progress line; others pass on
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    metrics = summarize(cfg, head, train_features, val_features, feature_seconds, fit_seconds)
    metrics["converged"] = converged
    progress.log(fit_line(metrics))
    if not converged:
        progress.log(f"the {cfg.classifier} solver stopped at its iteration limit before converging; "
                     "a smaller C converges faster")

    place_head(model, head, untrained["architecture"])
    models.save_trained(out_dir, model, {**untrained, "input_size": input_size}, classes,
                        train_set.directory.transform)
    write_metrics(Path(out_dir), metrics)
    return LinearResult(metrics, head)


def place_head(model: torch.nn.Module, head: LinearHead, architecture: str | None = None) -> None:
    """Put the folded classifier into the network's last Linear layer."""
    layer = feats.head_of(model, architecture)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(head.weight).to(layer.weight))
        layer.bias.copy_(torch.from_numpy(head.bias).to(layer.bias))


def summarize(cfg: LinearConfig, head: LinearHead, train: feats.Features, val: feats.Features | None,
              feature_seconds: float, fit_seconds: float) -> dict:
    """What metrics.csv records: the fit on the training images, and on the validation images (the
    log loss before and after calibration) when there are some."""
    row = {"classifier": cfg.classifier, "c": cfg.c, "temperature": head.temperature,
           "calibrated_on": head.calibrated_on, "features": int(train.values.shape[1]),
           "feature_seconds": feature_seconds, "fit_seconds": fit_seconds}
    for prefix, part in (("train", train), ("val", val)):
        if part is None:
            continue
        logits = head.logits(part.values.astype(np.float64))
        row[f"{prefix}_loss"] = log_loss(logits, part.targets)
        row[f"{prefix}_accuracy"] = float((logits.argmax(1) == part.targets).mean())
    if val is not None:
        row["val_loss_uncalibrated"] = log_loss(head.logits(val.values.astype(np.float64)), val.targets,
                                                1.0 / head.temperature)
    return row


def fit_line(metrics: dict) -> str:
    line = (f"{metrics['classifier']} fitted in {metrics['fit_seconds']:.1f} s; temperature "
            f"{metrics['temperature']:.3g} from {metrics['calibrated_on']}; training accuracy "
            f"{metrics['train_accuracy']:.4f}")
    if "val_accuracy" in metrics:
        line += (f"; validation accuracy {metrics['val_accuracy']:.4f}, log loss {metrics['val_loss']:.4f} "
                 f"({metrics['val_loss_uncalibrated']:.4f} before calibration)")
    return line


METRIC_COLUMNS = ("classifier", "c", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                  "val_loss_uncalibrated", "temperature", "calibrated_on", "converged", "features",
                  "feature_seconds", "fit_seconds")


def write_metrics(folder: Path, metrics: dict) -> None:
    with open(folder / METRICS_FILE, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerow({k: metrics.get(k, "") for k in METRIC_COLUMNS})
