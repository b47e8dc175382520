"""Evaluate Model: numbers worked out by hand (confusion matrices, precision, recall, F1, AUC, log
loss, the zero-division and single-class cases), the plumbing against scikit-learn on larger
random tables; errors; charts and report."""

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


# -- values worked out by hand ---------------------------------------------------------------------
# The tests above prove the plumbing (class order, positive class, columns) against scikit-learn
# called the same way; these prove the numbers: small tables whose confusion matrix, precision,
# recall, F1, AUC and log loss are counted by hand below, not by the library that computes them.

def pairwise_auc(scores, positive) -> float:
    """AUC as the share of (positive, negative) pairs ranked right, ties counting half (the
    Mann-Whitney statistic): an independent way to the number roc_auc_score computes."""
    pos = [s for s, p in zip(scores, positive) if p]
    neg = [s for s, p in zip(scores, positive) if not p]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return wins / (len(pos) * len(neg))


def frame_of(truth, predicted, probabilities: dict) -> pd.DataFrame:
    frame = pd.DataFrame({"label": truth, "Scored Labels": predicted})
    for name, column in probabilities.items():
        frame[f"Scored Probabilities_{name}"] = column
    return frame


def test_binary_metrics_by_hand():
    # p(dog) >= 0.5 predicts dog. TP = 2 (0.9, 0.8), FN = 2 (0.4, 0.3), FP = 1 (0.6), TN = 3.
    truth = ["dog"] * 4 + ["cat"] * 4
    p_dog = [0.9, 0.8, 0.4, 0.3, 0.6, 0.2, 0.1, 0.35]
    predicted = ["dog" if p >= 0.5 else "cat" for p in p_dog]
    result = compute_metrics(scored_from_frame(frame_of(truth, predicted, {
        "cat": [1 - p for p in p_dog], "dog": p_dog}), "x"))
    assert result.data.positive == "dog"
    np.testing.assert_array_equal(result.confusion, [[3, 1], [2, 2]])  # rows cat, dog
    # 13 of the 16 (dog, cat) pairs rank the dog higher: 0.9 and 0.8 beat all four cats, 0.4 beats
    # three (not 0.6), 0.3 beats two (0.2, 0.1).
    log_loss = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.3)
                 + math.log(0.4) + math.log(0.8) + math.log(0.9) + math.log(0.65)) / 8
    expected = {"Accuracy": 5 / 8, "Precision": 2 / 3, "Recall": 2 / 4, "F1_Score": 4 / 7, "AUC": 13 / 16,
                "Log_Loss": log_loss}
    assert result.metrics == pytest.approx(expected, abs=1e-12)
    assert pairwise_auc(p_dog, [t == "dog" for t in truth]) == 13 / 16


def test_multiclass_metrics_by_hand():
    #          predicted a  b  c
    # true a             2  1  1
    # true b             1  2  0
    # true c             0  1  2
    truth = ["a"] * 4 + ["b"] * 3 + ["c"] * 3
    predicted = ["a", "a", "b", "c", "b", "b", "a", "c", "c", "b"]
    p_true = [0.7, 0.6, 0.3, 0.2, 0.5, 0.7, 0.4, 0.9, 0.6, 0.1]  # probability given to the true class
    rows = []
    for label, guess, p in zip(truth, predicted, p_true):
        # The guessed class gets the largest share; the rest is split evenly.
        row = {c: 0.0 for c in "abc"}
        row[label] = p
        others = [c for c in "abc" if c != label]
        if guess == label:
            row[others[0]] = row[others[1]] = (1 - p) / 2
        else:
            row[guess] = 1 - p - 0.05
            row[next(c for c in others if c != guess)] = 0.05
        rows.append(row)
    probabilities = {c: [row[c] for row in rows] for c in "abc"}
    result = compute_metrics(scored_from_frame(frame_of(truth, predicted, probabilities), "x"))
    np.testing.assert_array_equal(result.confusion, [[2, 1, 1], [1, 2, 0], [0, 1, 2]])
    precision = [2 / 3, 2 / 4, 2 / 3]  # diagonal over column sums
    recall = [2 / 4, 2 / 3, 2 / 3]  # diagonal over row sums
    f1 = [4 / 7, 4 / 7, 2 / 3]
    aucs = [pairwise_auc(probabilities[c], [t == c for t in truth]) for c in "abc"]
    expected = {
        "Overall_Accuracy": 6 / 10,
        "Micro_Precision": 6 / 10, "Micro_Recall": 6 / 10, "Micro_F1_Score": 6 / 10,
        "Macro_Precision": 11 / 18, "Macro_Recall": 11 / 18, "Macro_F1_Score": 38 / 63,
        "Macro_AUC": sum(aucs) / 3,
        "Log_Loss": -sum(math.log(p) for p in p_true) / 10,
    }
    assert result.metrics == pytest.approx(expected, abs=1e-12)
    assert sum(precision) / 3 == pytest.approx(11 / 18) and sum(f1) / 3 == pytest.approx(38 / 63)
    np.testing.assert_allclose(result.per_class["precision"], precision, atol=1e-12)
    np.testing.assert_allclose(result.per_class["recall"], recall, atol=1e-12)
    np.testing.assert_allclose(result.per_class["f1_score"], f1, atol=1e-12)
    assert result.per_class["support"].tolist() == [4, 3, 3]
    # Class c's one-vs-rest AUC by hand: its three images score 0.9, 0.6, 0.1 for c; the seven
    # others 0.15, 0.2, 0.05, 0.75, 0.25, 0.15, 0.05. 0.9 beats all 7, 0.6 all but 0.75, 0.1 the two 0.05.
    assert aucs[2] == pytest.approx((7 + 6 + 2) / 21)


def test_a_class_never_predicted_has_zero_precision_by_the_zero_division_rule():
    # Nothing is predicted "c": its precision is 0/0, reported as 0 (zero_division=0), and it
    # pulls the macro precision down; its recall is 0 of 2.
    truth = ["a", "a", "b", "b", "c", "c"]
    predicted = ["a", "a", "b", "a", "b", "a"]
    result = compute_metrics(scored_from_frame(frame_of(truth, predicted, {}), "x"))
    assert result.per_class["precision"].tolist() == pytest.approx([2 / 4, 1 / 2, 0.0])
    assert result.per_class["recall"].tolist() == pytest.approx([1.0, 1 / 2, 0.0])
    assert result.per_class["f1_score"].tolist() == pytest.approx([2 / 3, 1 / 2, 0.0])
    assert result.metrics["Macro_Precision"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert result.metrics["Overall_Accuracy"] == pytest.approx(3 / 6)
    assert "Macro_AUC" not in result.metrics and any("probability columns" in n for n in result.notes)

    # Binary: the positive class never predicted gives precision 0 (0/0) and F1 0.
    binary = compute_metrics(scored_from_frame(frame_of(["cat", "dog", "dog"], ["cat", "cat", "cat"], {}), "y"))
    assert binary.data.positive == "dog"
    assert binary.metrics == pytest.approx({"Accuracy": 1 / 3, "Precision": 0.0, "Recall": 0.0, "F1_Score": 0.0})


def test_a_single_class_test_set():
    # Only dogs were scored by a cat/dog model: recall and precision are defined, AUC is not (no
    # negative to rank against: NaN with a note), log loss is.
    p_dog = [0.9, 0.7, 0.4, 0.6]
    result = compute_metrics(scored_from_frame(frame_of(
        ["dog"] * 4, ["dog", "dog", "cat", "dog"], {"cat": [1 - p for p in p_dog], "dog": p_dog}), "x"))
    assert result.task == BINARY and result.data.positive == "dog"
    np.testing.assert_array_equal(result.confusion, [[0, 0], [1, 3]])
    assert {k: v for k, v in result.metrics.items() if k != "AUC"} == pytest.approx({
        "Accuracy": 3 / 4, "Precision": 3 / 3, "Recall": 3 / 4, "F1_Score": 6 / 7,
        "Log_Loss": -(math.log(0.9) + math.log(0.7) + math.log(0.4) + math.log(0.6)) / 4}, abs=1e-12)
    assert math.isnan(result.metrics["AUC"])
    assert any(note.startswith("AUC is not defined") for note in result.notes)
    assert any("No image of class cat" in note for note in result.notes)
