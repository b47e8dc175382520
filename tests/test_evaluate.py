"""Evaluate Model: every number equals scikit-learn's on the same data; errors; charts and report."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.exceptions import UndefinedMetricWarning

import visionblocks as vb
from visionblocks import errors
from visionblocks.dataframe import read_dataframe, write_dataframe
from visionblocks.evaluation.metrics import BINARY, MULTICLASS, compute_metrics, positive_class, scored_from_frame

CLASSES = ["bird", "cat", "dog", "fox"]


def scored_frame(classes, n=240, seed=0, flip=0.3):
    """A scored table like Score Image Model's: softmax-like probabilities, argmax labels.
    ``classes`` are label values (text, numbers or booleans); columns are named by their text."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(classes), n)
    logits = rng.normal(size=(n, len(classes)))
    logits[np.arange(n), truth] += rng.choice([0.0, 2.5], size=n, p=[flip, 1 - flip])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"identifier": np.arange(n), "label": [classes[i] for i in truth],
                          "Scored Labels": [classes[i] for i in probs.argmax(axis=1)]})
    for k, c in enumerate(classes):
        frame[f"Scored Probabilities_{c}"] = probs[:, k]
    return frame, probs


def sorted_columns(probs, classes):
    """scikit-learn reads probability columns in sorted label order."""
    order = np.argsort(classes)
    return probs[:, order], [classes[i] for i in order]


def sklearn_log_loss(y, probs, classes):
    probs, labels = sorted_columns(probs, classes)
    return skm.log_loss(y, probs, labels=labels)


def test_multiclass_metrics_equal_scikit_learns():
    frame, probs = scored_frame(CLASSES)
    result = compute_metrics(scored_from_frame(frame, "Scored dataset"))
    y, p = frame["label"], frame["Scored Labels"]
    expected = {
        "Overall_Accuracy": skm.accuracy_score(y, p),
        "Micro_Precision": skm.precision_score(y, p, average="micro"),
        "Micro_Recall": skm.recall_score(y, p, average="micro"),
        "Micro_F1_Score": skm.f1_score(y, p, average="micro"),
        "Macro_Precision": skm.precision_score(y, p, average="macro"),
        "Macro_Recall": skm.recall_score(y, p, average="macro"),
        "Macro_F1_Score": skm.f1_score(y, p, average="macro"),
        "Macro_AUC": skm.roc_auc_score(y, probs, multi_class="ovr", average="macro", labels=CLASSES),
        "Log_Loss": sklearn_log_loss(y, probs, CLASSES),
    }
    assert result.task == MULTICLASS
    assert list(result.metrics) == list(expected)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name
    assert 0.5 < result.metrics["Overall_Accuracy"] < 0.95  # the data has real mistakes to measure
    np.testing.assert_array_equal(result.confusion, skm.confusion_matrix(y, p, labels=CLASSES))
    np.testing.assert_allclose(result.per_class["precision"], skm.precision_score(y, p, average=None, labels=CLASSES),
                               atol=1e-12)
    np.testing.assert_allclose(result.per_class["recall"], skm.recall_score(y, p, average=None, labels=CLASSES),
                               atol=1e-12)
    row = result.row()
    assert row["Precision_dog"] == pytest.approx(skm.precision_score(y, p, labels=["dog"], average="micro"), abs=1e-12)
    assert row["Recall_fox"] == pytest.approx(skm.recall_score(y, p, labels=["fox"], average="micro"), abs=1e-12)


def test_class_order_is_the_models_not_the_alphabets():
    frame, probs = scored_frame([10, 9, 2])  # integer labels, in a class-id order that is not sorted
    result = compute_metrics(scored_from_frame(frame, "x"))
    classes = ["10", "9", "2"]
    assert result.data.classes == classes
    y, p = frame["label"].astype(str), frame["Scored Labels"].astype(str)
    np.testing.assert_array_equal(result.confusion, skm.confusion_matrix(y, p, labels=classes))
    assert result.metrics["Log_Loss"] == pytest.approx(sklearn_log_loss(y, probs, classes), abs=1e-12)
    probs, labels = sorted_columns(probs, classes)
    assert result.metrics["Macro_AUC"] == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr", labels=labels), abs=1e-12)


@pytest.mark.parametrize("classes, positive", [
    (["cat", "dog"], "dog"),  # text: the second in alphabetical order
    (["dog", "cat"], "dog"),  # whatever the model's class order
    ([1, 0], "1"),
    ([True, False], "True"),
    ([3, 7], "7"),
])
def test_binary_metrics_equal_scikit_learns_with_the_designers_positive_class(classes, positive):
    frame, probs = scored_frame(classes, flip=0.4)
    result = compute_metrics(scored_from_frame(frame, "Scored dataset"))
    assert result.task == BINARY
    assert result.data.positive == positive
    y = frame["label"].astype(str).to_numpy()
    p = frame["Scored Labels"].astype(str).to_numpy()
    p_pos = probs[:, [str(c) for c in classes].index(positive)]
    assert result.data.classes == [str(c) for c in classes]
    expected = {
        "Accuracy": skm.accuracy_score(y, p),
        "Precision": skm.precision_score(y, p, pos_label=positive),
        "Recall": skm.recall_score(y, p, pos_label=positive),
        "F1_Score": skm.f1_score(y, p, pos_label=positive),
        "AUC": skm.roc_auc_score(y == positive, p_pos),
        "Log_Loss": skm.log_loss(y == positive, p_pos),
    }
    assert list(result.metrics) == list(expected)
    for name, value in expected.items():
        assert result.metrics[name] == pytest.approx(value, abs=1e-12), name


def test_a_single_positive_probability_column_is_binary():
    frame = pd.DataFrame({"Labels": ["no", "yes", "yes", "no", "yes"],
                          "Scored Labels": ["no", "yes", "no", "no", "yes"],
                          "Scored Probabilities": [0.1, 0.8, 0.4, 0.3, 0.9]})
    result = compute_metrics(scored_from_frame(frame, "x"))
    assert (result.task, result.data.positive) == (BINARY, "yes")
    assert result.metrics["AUC"] == pytest.approx(skm.roc_auc_score([0, 1, 1, 0, 1], [0.1, 0.8, 0.4, 0.3, 0.9]))


def test_positive_class_rule():
    assert positive_class(pd.Series([True, False]), ["False", "True"]) == "True"
    assert positive_class(pd.Series(["b", "a"]), ["b", "a"]) == "b"
    assert positive_class(pd.Series([10, 9]), ["10", "9"]) == "10"  # numbers compare as numbers


def test_undefined_auc_is_nan_as_in_scikit_learn_and_explained():
    frame, probs = scored_frame(CLASSES)
    frame = frame[frame["label"] != "fox"]  # no fox image: its one-vs-rest AUC is not defined
    result = compute_metrics(scored_from_frame(frame, "x"))
    with pytest.warns(UndefinedMetricWarning):
        expected = skm.roc_auc_score(frame["label"], probs[frame.index], multi_class="ovr", labels=CLASSES)
    assert math.isnan(expected) and math.isnan(result.metrics["Macro_AUC"])
    assert any("fox" in note for note in result.notes)


def _write(tmp_path, name, frame, **meta):
    return write_dataframe(tmp_path / name, frame, **meta)


def test_missing_label_column_is_0024_and_missing_scores_0025(tmp_path):
    frame, _ = scored_frame(CLASSES, n=20)
    no_label = _write(tmp_path, "a", frame.drop(columns=["label"]))
    with pytest.raises(errors.NotLabeledDatasetError, match="no label column"):
        vb.run_module("evaluate-model", inputs={"scored_dataset": no_label}, out=tmp_path / "o1")
    no_scores = _write(tmp_path, "b", frame.drop(columns=["Scored Labels"]))
    with pytest.raises(errors.NotScoredDatasetError, match="Scored Labels"):
        vb.run_module("evaluate-model", inputs={"scored_dataset": no_scores}, out=tmp_path / "o2")
    unknown = frame.copy()
    unknown.loc[0, "label"] = "wolf"
    with pytest.raises(errors.NotExpectedLabelColumnError, match="wolf"):
        vb.run_module("evaluate-model", inputs={"scored_dataset": _write(tmp_path, "c", unknown)}, out=tmp_path / "o3")


def test_comparing_a_binary_with_a_multiclass_model_is_0062(tmp_path):
    multi = _write(tmp_path, "multi", scored_frame(CLASSES, n=30)[0])
    binary = _write(tmp_path, "binary", scored_frame(["cat", "dog"], n=30)[0])
    with pytest.raises(errors.LearnerTypesNotCompatibleError, match="0062|binary"):
        vb.run_module("evaluate-model", inputs={"scored_dataset": multi, "scored_dataset_to_compare": binary},
                      out=tmp_path / "out")
    assert '"ErrorCode": 62' in (tmp_path / "out" / "error_info.json").read_text()


def test_compare_reports_left_then_right_with_charts_and_report(tmp_path, digits_dir):
    from visionblocks.imagedir import ImageDirectory

    images = vb.run_module("convert-to-image-directory", inputs={"input_dataset": digits_dir},
                           out=tmp_path / "convert").outputs["output_image_directory"]
    directory = ImageDirectory.load(images)
    classes = directory.classes
    left, _ = scored_frame(classes, n=len(directory), seed=1)
    left["identifier"] = [e.id for e in directory.entries]
    right, _ = scored_frame(classes, n=len(directory), seed=2, flip=0.1)
    meta = {"label_column_name": "label", "image_directory": str(images)}
    result = vb.run_module("evaluate-model", out=tmp_path / "eval", inputs={
        "scored_dataset": _write(tmp_path, "left", left, **meta),
        "scored_dataset_to_compare": _write(tmp_path, "right", right, label_column_name="label")})
    out = result.outputs["evaluation_results"]
    table = read_dataframe(out)
    assert table["Scored_Dataset"].tolist() == ["Scored dataset", "Scored dataset to compare"]
    assert table.loc[0, "Overall_Accuracy"] == pytest.approx(skm.accuracy_score(left["label"], left["Scored Labels"]))
    assert table.loc[1, "Overall_Accuracy"] == pytest.approx(skm.accuracy_score(right["label"], right["Scored Labels"]))
    for stem in ("confusion_matrix", "roc_curves", "precision_recall_curves"):
        for suffix in ("", "_compare"):
            png = out / f"{stem}{suffix}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    confusion = pd.read_csv(out / "confusion_matrix.csv", index_col=0)
    assert confusion.to_numpy().sum() == len(directory)
    page = (out / "report.html").read_text()
    assert "Scored dataset to compare" in page and 'src="roc_curves_compare.png"' in page
    assert page.count("data:image/png;base64,") >= 10  # thumbnails of the left input's mistakes
    assert "does not say where its images are" in page  # the right input names no image directory


def test_report_command_prints_the_metrics_and_the_report(tmp_path, capsys):
    from visionblocks.cli import main

    folder = _write(tmp_path, "scored", scored_frame(["cat", "dog"], n=40)[0])
    vb.run_module("evaluate-model", inputs={"scored_dataset": folder}, out=tmp_path / "eval")
    assert main(["report", str(tmp_path / "eval" / "evaluation_results")]) == 0
    printed = capsys.readouterr().out
    assert "positive label dog" in printed and "AUC" in printed and "report.html" in printed
    assert main(["report", str(tmp_path / "scored")]) == 2  # no evaluation there: 0003, one line


def test_report_escapes_class_names_and_paths_from_the_data(tmp_path):
    hostile = ['<script>alert("x")</script>', "a&b"]
    frame, _ = scored_frame(hostile, n=40, flip=0.5)
    folder = _write(tmp_path, "scored", frame, label_column_name="label", image_directory="/no/such/<img src=x>",
                    model="<b>model</b>")
    out = vb.run_module("evaluate-model", inputs={"scored_dataset": folder},
                        out=tmp_path / "eval").outputs["evaluation_results"]
    page = (out / "report.html").read_text()
    assert "<script>" not in page and "<b>" not in page and "<img src=x>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page  # per-class table, cards, positive label
    assert "a&amp;b" in page and "&lt;b&gt;model&lt;/b&gt;" in page
    assert "The scored images are no longer at /no/such/&lt;img src=x&gt;" in page


def test_results_folder_names_every_file_it_writes(tmp_path):
    from visionblocks import ports
    from visionblocks.evaluation.results import summary_line, write_evaluation_results

    left = _write(tmp_path, "left", scored_frame(["cat", "dog"], n=50, seed=3)[0])
    right = _write(tmp_path, "right", scored_frame(["cat", "dog"], n=50, seed=4)[0])
    evaluations = write_evaluation_results(tmp_path / "out", left, right)
    assert [e.data.name for e in evaluations] == ["Scored dataset", "Scored dataset to compare"]
    meta = ports.read_meta(tmp_path / "out")
    written = {p.name for p in (tmp_path / "out").iterdir()}
    assert {meta["report"], *meta["charts"], *meta["confusion_matrices"]} <= written
    assert meta["confusion_matrices"] == ["confusion_matrix.csv", "confusion_matrix_compare.csv"]
    assert meta["metrics"] == list(evaluations[0].metrics)
    line = summary_line(evaluations[1])
    assert line.startswith("Scored dataset to compare (Binary, 50 images): Accuracy ")
    assert f"AUC {evaluations[1].metrics['AUC']:.4f}" in line
