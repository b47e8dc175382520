"""Train Linear Image Classifier: a linear classifier on a frozen network's features, folded into the
network's last layer, so that every consumer of a ModelDirectory takes it unchanged.

The network is resnet18 from random weights (no download in tests) on 16-pixel digits, in fp32,
so the runs are deterministic and fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax, softmax

import visionblocks as vb
from visionblocks import errors
from visionblocks.dataframe import read_dataframe
from visionblocks.datasets import write_digits
from visionblocks.imagedir import ImageDirectory
from visionblocks.learn import features as feats
from visionblocks.learn import linear
from visionblocks.learn.linear import LinearConfig

MODULE = "train-linear-image-classifier"


def _nll(probabilities: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(targets)), targets], 1e-300, None)).mean())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Digits split into training (60 %), validation and test images (20 % each), and an untrained
    resnet18 from random weights."""
    work = tmp_path_factory.mktemp("linear")
    raw = write_digits(work / "raw", size=16, per_class=15)
    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": raw}, out=work / "convert")
    first = vb.run_module("split-image-directory", params={"fraction": 0.6},
                          inputs={"input_image_directory": images.outputs["output_image_directory"]}, out=work / "s1")
    second = vb.run_module("split-image-directory", params={"fraction": 0.5},
                           inputs={"input_image_directory": first.outputs["output_image_directory2"]}, out=work / "s2")
    resnet = vb.run_module("resnet", params={"model_name": "resnet18", "pretrained": False}, out=work / "resnet")
    return {"work": work, "untrained": resnet.outputs["untrained_model"],
            "train": first.outputs["output_image_directory1"], "val": second.outputs["output_image_directory1"],
            "test": second.outputs["output_image_directory2"]}


def _train(data, name: str, validation: bool, **params):
    inputs = {"untrained_model": data["untrained"], "training_dataset": data["train"]}
    if validation:
        inputs["validation_dataset"] = data["val"]
    result = vb.run_module(MODULE, inputs=inputs, params={"precision": "fp32", **params}, out=data["work"] / name)
    return result.outputs["trained_model"]


@pytest.fixture(scope="module")
def svm_model(data):
    """A linear SVM calibrated on the validation images; counts the images features are computed for."""
    counted = []
    extract = feats.extract

    def counting(network, dataset, *args, **kwargs):
        counted.append(len(dataset))
        return extract(network, dataset, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feats, "extract", counting)
        model = _train(data, "svm", validation=True, classifier="linear_svm")
    return model, counted


@pytest.fixture(scope="module")
def scored(data, svm_model):
    result = vb.run_module("score-image-model", inputs={"trained_model": svm_model[0], "dataset": data["test"]},
                           params={"precision": "fp32"}, out=data["work"] / "score")
    return result.outputs["scored_dataset"]


def test_features_are_computed_once_per_image(data, svm_model):
    _, counted = svm_model
    assert counted == [len(ImageDirectory.load(data["train"])), len(ImageDirectory.load(data["val"]))]


def test_output_is_an_ordinary_model_directory(svm_model):
    import pandas as pd

    from visionblocks.learn import models

    model_dir, _ = svm_model
    loaded = models.load_trained(model_dir)
    assert loaded.classes == [str(d) for d in range(10)]
    assert loaded.model.fc.weight.shape == (10, 512)
    metrics = pd.read_csv(model_dir / "metrics.csv").iloc[0]
    assert metrics["classifier"] == "linear_svm" and metrics["calibrated_on"] == "validation"
    # The fit's report: calibration never makes the validation log loss worse (it is fitted there).
    assert metrics["val_loss"] <= metrics["val_loss_uncalibrated"]
    assert metrics["feature_seconds"] >= 0 and metrics["fit_seconds"] >= 0


def test_score_image_model_gives_probabilities_that_sum_to_one(scored):
    frame = read_dataframe(scored)
    probabilities = frame.filter(like="Scored Probabilities_").to_numpy()
    assert probabilities.shape == (len(frame), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert (probabilities > 0).all()
    best = probabilities.argmax(axis=1)
    assert frame["Scored Labels"].tolist() == [str(b) for b in best]


def test_evaluate_model_takes_the_scores(data, scored):
    result = vb.run_module("evaluate-model", inputs={"scored_dataset": scored}, out=data["work"] / "evaluate")
    row = read_dataframe(result.outputs["evaluation_results"]).iloc[0]
    assert row["Task"] == "Multi-class" and int(row["Images"]) == len(ImageDirectory.load(data["test"]))
    assert float(row["Overall_Accuracy"]) > 0.5  # ten classes: chance is 0.1


def test_calibrated_probabilities_beat_the_softmax_of_the_raw_decision_function(data, svm_model, scored):
    """On test images seen neither by the fit nor by the calibration, the module's probabilities
    are (1) exactly softmax(decision / T) of the same scikit-learn model, folded into the layer,
    and (2) no worse in log loss than the uncalibrated softmax(decision)."""
    import pandas as pd
    import torch

    from visionblocks.data.loading import ImageDataset
    from visionblocks.learn import models, precision as prec

    model_dir, _ = svm_model
    temperature = float(pd.read_csv(model_dir / "metrics.csv").loc[0, "temperature"])
    network = feats.backbone(models.load_trained(model_dir).model)
    fp32 = prec.resolve_precision("fp32", "cpu")

    def features_of(folder):
        return feats.extract(network, ImageDataset(folder, mode="inference"), torch.device("cpu"), fp32, 32)

    train, test = features_of(data["train"]), features_of(data["test"])
    estimator = linear.make_estimator(LinearConfig(classifier="linear_svm")).fit(train.values, train.targets)
    decision = linear.decision_logits(estimator.decision_function(test.values))

    frame = read_dataframe(scored)
    module = frame.filter(like="Scored Probabilities_").to_numpy()
    np.testing.assert_allclose(module, softmax(decision / temperature, axis=1), atol=1e-4)
    targets = test.targets
    assert _nll(module, targets) <= _nll(softmax(decision, axis=1), targets)


def test_the_web_service_serves_it(data, svm_model, scored):
    from fastapi.testclient import TestClient

    from visionblocks.learn.score import Scorer
    from visionblocks.service.app import create_app

    test_dir = ImageDirectory.load(data["test"])
    entry = test_dir.entries[0]
    with TestClient(create_app(Scorer(svm_model[0], device="cpu", precision="fp32"))) as client:
        answer = client.post("/score", content=test_dir.path_of(entry).read_bytes(),
                             headers={"Content-Type": "image/png"})
    assert answer.status_code == 200, answer.text
    row = answer.json()["Results"]["WebServiceOutput0"][0]
    served = np.array([row[f"Scored Probabilities_{c}"] for c in test_dir.classes])
    assert abs(served.sum() - 1) < 1e-9
    offline = read_dataframe(scored).set_index("identifier").loc[entry.id]
    np.testing.assert_allclose(served, [offline[f"Scored Probabilities_{c}"] for c in test_dir.classes], atol=1e-6)
    assert row["Scored Labels"] == offline["Scored Labels"]


def test_logistic_regression_without_validation_is_calibrated_by_cross_validation(data):
    import pandas as pd

    model_dir = _train(data, "logistic", validation=False, classifier="logistic_regression", c=0.5)
    metrics = pd.read_csv(model_dir / "metrics.csv").iloc[0]
    assert metrics["classifier"] == "logistic_regression" and metrics["c"] == 0.5
    assert metrics["calibrated_on"] == "cross-validation"
    assert np.isnan(metrics["val_loss"])


@pytest.mark.parametrize("classes", [2, 4])
def test_the_folded_layer_computes_the_calibrated_decision(classes):
    """Standardization, classifier and temperature as one Linear layer, also for two classes
    (where scikit-learn gives one decision value)."""
    rng = np.random.default_rng(classes)
    y = np.repeat(np.arange(classes), 30)
    x = rng.normal(size=(len(y), 8)) * rng.uniform(0.1, 10, 8) + 5 + y[:, None] * 0.7
    for name in linear.LINEAR_CLASSIFIERS:
        head = linear.fit_head(LinearConfig(classifier=name), x, y, classes)
        estimator = linear.make_estimator(LinearConfig(classifier=name)).fit(x, y)
        expected = linear.decision_logits(estimator.decision_function(x)) / head.temperature
        np.testing.assert_allclose(head.logits(x), expected, rtol=1e-6, atol=1e-6)
        if classes == 2 and name == linear.LOGISTIC_REGRESSION:  # the layer's softmax is predict_proba at T = 1
            np.testing.assert_allclose(softmax(head.logits(x) * head.temperature, axis=1),
                                       estimator.predict_proba(x), atol=1e-9)


def test_temperature_never_makes_the_held_out_log_loss_worse():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 200)
    confident = np.eye(3)[targets] * 8 + rng.normal(size=(200, 3)) * 4  # overconfident margins
    for logits in (confident, confident / 40):  # too sure, then too unsure
        temperature = linear.fit_temperature(logits, targets)
        assert linear.log_loss(logits, targets, temperature) <= linear.log_loss(logits, targets)
    assert linear.fit_temperature(confident, targets) > 1 > linear.fit_temperature(confident / 40, targets)
    # softmax's log is what the loss uses
    assert linear.log_loss(confident, targets) == pytest.approx(
        -log_softmax(confident, axis=1)[np.arange(200), targets].mean())


def test_a_class_without_training_images_is_refused():
    with pytest.raises(errors.InvalidDatasetError, match="no training image"):
        linear.check_classes(np.array([0, 0, 2, 2]), 3)


def test_an_unknown_classifier_is_refused_before_running(data):
    with pytest.raises(errors.NotInRangeValueError, match="classifier"):
        _train(data, "bad", validation=False, classifier="random_forest")
