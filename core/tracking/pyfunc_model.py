"""The trained model as an MLflow ``pyfunc`` model, so MLflow's tools can load and score it.

The logged model folder holds the ModelDirectory itself (weights, ``_id_to_class.json`` = the
class list, ``_transforms.json`` = the training transformation, of which scoring applies the
inference part) and a small ``PythonModel`` that scores images with the same
:class:`~visionblocks.learn.score.Scorer` as Score Image Model and the web service::

    model = mlflow.pyfunc.load_model("runs:/<node run id>/model")
    model.predict(pandas.DataFrame({"image": ["digit.png", ...]}))   # paths or bytes
    # -> one row per image: Scored Labels, Scored Probabilities_<class> ...

The model is saved as "models from code" (:mod:`visionblocks.tracking.pyfunc_code`), not as a
pickled object: loading it never unpickles code, as ModelDirectory loading never does.
Only imported when a model is logged (MLflow installed, tracking on).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from pathlib import Path

import mlflow.pyfunc

import visionblocks

ARTIFACT = "model_directory"
IMAGE_COLUMN = "image"


class ImageClassifier(mlflow.pyfunc.PythonModel):
    """Scores images (paths or bytes, a DataFrame's ``image`` column or its first one)."""

    def load_context(self, context):
        from visionblocks.learn.score import Scorer

        self.scorer = Scorer(context.artifacts[ARTIFACT])

    def predict(self, context, model_input, params=None):
        import pandas as pd

        from visionblocks.dataframe import SCORED_LABELS, probability_column
        from visionblocks.images import open_rgb

        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame({IMAGE_COLUMN: list(model_input)})
        column = IMAGE_COLUMN if IMAGE_COLUMN in frame.columns else frame.columns[0]
        images = [open_rgb(item if isinstance(item, bytes) else Path(item))[0] for item in frame[column]]
        probabilities = self.scorer.predict_images(images)
        result = pd.DataFrame({SCORED_LABELS: self.scorer.labels_of(probabilities)})
        for k, name in enumerate(self.scorer.classes):
            result[probability_column(name)] = probabilities[:, k]
        return result


def log_model(client, run_id: str, model_dir: Path, folder: str = "model") -> None:
    """Save the ModelDirectory ``model_dir`` as a pyfunc model and log it into ``run_id``/``folder``."""
    code = Path(__file__).with_name("pyfunc_code.py")
    with tempfile.TemporaryDirectory() as work, _quiet_mlflow():
        target = Path(work) / folder
        mlflow.pyfunc.save_model(
            str(target), python_model=str(code), artifacts={ARTIFACT: str(model_dir)},
            # Named, not inferred: inference imports the model in a subprocess, which takes seconds.
            pip_requirements=[f"visionblocks=={visionblocks.__version__}"],
            metadata={"classes_file": "_id_to_class.json", "transform_file": "_transforms.json"},
        )
        client.log_artifacts(run_id, str(target), folder)


@contextlib.contextmanager
def _quiet_mlflow():
    """Saving the model without MLflow's progress bar for copying local files and its advice to
    add type hints to ``predict`` (it takes paths or bytes, which a hint on a DataFrame cannot say)."""
    name, old = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ[name] = "false"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hints.*", category=UserWarning)
            yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old
