"""Run tracking, built on the run hooks (``visionblocks.hookspecs``) as built-in plugins.

- :mod:`visionblocks.tracking.mlflow_runs`: one MLflow run per pipeline run, a nested run per
  node, parameters, per-epoch training metrics, Evaluate Model's metrics, the report and charts,
  and the trained model (as an MLflow ``pyfunc`` model, :mod:`visionblocks.tracking.pyfunc_model`).
  On when a tracking URI is given (``visionblocks run --tracking``, the pipeline's ``tracking:``
  line, or ``MLFLOW_TRACKING_URI``); needs the ``mlflow`` extra.
- :mod:`visionblocks.tracking.tensorboard_events`: TensorBoard event files of Train PyTorch
  Model's metrics, per epoch and every Print frequency batches, when the ``tensorboard`` package
  is installed.

Importing these modules imports neither MLflow nor TensorBoard (nor torch): the plugins load with
every other plugin, and a run without tracking never touches the libraries.
"""
