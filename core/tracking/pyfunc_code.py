"""What MLflow runs to load a logged visionblocks model ("models from code"): the model folder
holds a copy of this file instead of a pickled Python object, so loading the model runs this
package's code and unpickles nothing."""

import mlflow.models

from visionblocks.tracking.pyfunc_model import ImageClassifier

mlflow.models.set_model(ImageClassifier())
