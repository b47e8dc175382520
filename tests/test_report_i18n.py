"""Evaluate Model's report and charts in the reader's language: headings and metric names from
the catalogs, numbers in the language's notation (Babel), the pipeline's language line and
`--lang`, `visionblocks report --lang`, and a cache that reruns only what the language changes."""

from __future__ import annotations

import html
import re

import pytest
import yaml

import visionblocks as vb
from visionblocks.cli import main
from visionblocks.dataframe import read_dataframe, write_dataframe
from visionblocks.evaluation import plots
from visionblocks.evaluation.metrics import compute_metrics, scored_from_frame
from visionblocks.messages import Phrases
from visionblocks.pipeline import Pipeline

from test_evaluate import scored_frame

CLASSES = ["bird", "cat", "dog"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scored") / "scored_dataset"
    frame, _ = scored_frame(CLASSES, n=60, seed=3)
    write_dataframe(folder, frame)
    return folder


def evaluate(scored, out, language):
    result = vb.run_module("evaluate-model", inputs={"scored_dataset": scored},
                           params={"report_language": language}, out=out)
    folder = result.outputs["evaluation_results"]
    return folder, read_dataframe(folder).iloc[0], (folder / "report.html").read_text(encoding="utf-8")


def cells(page: str) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", page)


@pytest.mark.parametrize("lang, headings, metric, separator", [
    ("ru", ["Отчет об оценке модели", "Метрики", "По классам", "Графики"], "Общая доля правильных ответов", ","),
    ("es", ["Informe de evaluación", "Métricas", "Por clase", "Gráficos"], "Exactitud global", ","),
    ("en", ["Evaluation report", "Metrics", "Per class", "Charts"], "Overall accuracy", "."),
])
def test_report_headings_metric_names_and_numbers_in_the_language(scored, tmp_path, lang, headings, metric,
                                                                  separator):
    _, row, page = evaluate(scored, tmp_path, lang)
    assert f'<html lang="{lang}">' in page
    for heading in headings:
        assert re.search(rf"<h[123]>{re.escape(heading)}", page), heading
    # The metric's name in the language, the table's column name beside it, the value in the notation.
    accuracy = f"{row['Overall_Accuracy']:.4f}".replace(".", separator)
    assert f"<td>{metric}<span class=\"column\">Overall_Accuracy</span></td><td>{accuracy}</td>" in page
    numbers = [cell for cell in cells(page) if re.fullmatch(r"\d+[.,]\d{4}", cell)]
    assert numbers and all(separator in cell for cell in numbers)


def test_the_input_name_is_the_port_label_of_the_language(scored, tmp_path):
    _, _, page = evaluate(scored, tmp_path, "ru")
    assert "<h2>Оцененный набор данных</h2>" in page


def test_chart_titles_axes_and_legends_in_the_language(scored, monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    evaluation = compute_metrics(scored_from_frame(read_dataframe(scored), "Scored dataset"))
    plots.write_plots(evaluation, tmp_path, text=Phrases("es"))
    texts = {text for fig in figures for ax in fig.axes
             for text in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel(),
                          *(t.get_text() for t in (ax.get_legend().get_texts() if ax.get_legend() else [])))}
    joined = "\n".join(texts)
    for phrase in ("Matriz de confusión", "Etiqueta predicha", "Etiqueta real", "Curvas ROC",
                   "Tasa de falsos positivos", "Curvas de precisión y exhaustividad", "Azar",
                   "Conjunto de datos puntuado"):
        assert phrase in joined, phrase
    assert re.search(r"AUC \d,\d{3}", joined) and not re.search(r"AUC \d\.\d{3}", joined)


def test_report_command_writes_the_report_in_another_language(scored, tmp_path, capsys):
    folder, _, _ = evaluate(scored, tmp_path, "en")
    assert main(["report", str(folder), "--lang", "fr"]) == 0
    localized = folder / "report.fr.html"
    assert str(localized.resolve()) in capsys.readouterr().out
    page = html.unescape(localized.read_text(encoding="utf-8"))
    assert "<h1>Rapport d'évaluation</h1>" in page and 'src="confusion_matrix.fr.png"' in page
    assert (folder / "confusion_matrix.fr.png").is_file() and (folder / "roc_curves.fr.png").is_file()
    assert "Evaluation report" in (folder / "report.html").read_text(encoding="utf-8")  # the run's own stays
    assert main(["report", str(folder), "--lang", "en"]) == 0  # the folder's own language: its own report
    assert str((folder / "report.html").resolve()) in capsys.readouterr().out


def pipeline(scored, **options) -> Pipeline:
    return Pipeline.from_dict({"name": "evaluate-only", **options, "nodes": [
        {"id": "evaluate", "module": "evaluate-model", "inputs": {"scored_dataset": str(scored)}},
        {"id": "evaluate_en", "module": "evaluate-model", "inputs": {"scored_dataset": str(scored)},
         "params": {"report_language": "en"}}]})


def test_the_pipelines_language_and_the_cache(scored, tmp_path):
    out = tmp_path / "run"
    first = pipeline(scored, language="ru")
    first.run(out)
    assert "Метрики" in (out / "evaluate" / "evaluation_results" / "report.html").read_text(encoding="utf-8")
    # --lang over the pipeline's line: the node that follows the run's language reruns, the other is reused.
    log = first.run(out, settings=first.settings(language="es"))
    status = {node["id"]: node for node in log["nodes"]}
    assert status["evaluate"]["status"] == "ran" and status["evaluate_en"]["status"] == "reused"
    assert status["evaluate"]["reasons"][0]["kind"] == "setting_changed"
    assert "Métricas" in (out / "evaluate" / "evaluation_results" / "report.html").read_text(encoding="utf-8")
    log = first.run(out, settings=first.settings(language="es"))
    assert {node["status"] for node in log["nodes"]} == {"reused"}


def test_a_pipeline_file_with_an_unknown_language_is_refused(scored, tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"language": "de", "nodes": [
        {"id": "evaluate", "module": "evaluate-model", "inputs": {"scored_dataset": str(scored)}}]}))
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert not (tmp_path / "run").exists()
