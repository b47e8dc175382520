"""The designer's error catalogue as one exception hierarchy.

Every error visionblocks raises on purpose is a :class:`ModuleError` carrying the designer's
numeric code and ErrorId name (``NotLabeledDataset``, 0024, ...), so a pipeline user sees the
same code the designer would show, and ``error_info.json`` has the designer's shape.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

_MAX_MESSAGE = 4096
_MAX_RECORD = 9000


class ModuleError(Exception):
    """Base class: an error with a designer code, a name and an optional hint."""

    code: int = 2000
    name: str = "UserError"
    default_message: str = "User error."
    hint: str = ""

    def __init__(self, message: str | None = None, *, hint: str | None = None):
        self.message = message or self.default_message
        if hint is not None:
            self.hint = hint
        super().__init__(self.message)

    @property
    def code_str(self) -> str:
        return f"{self.code:04d}"

    def one_line(self) -> str:
        """What the CLI prints: code, name, message and what to do."""
        line = f"Error {self.code_str} {self.name}: {self.message}"
        return f"{line} Hint: {self.hint}" if self.hint else line

    def to_error_info(self, exc_type: str = "ModuleException") -> dict:
        message = f"{self.name}: {self.message}"[:_MAX_MESSAGE]
        return {
            "Exception": {
                "ErrorId": self.name,
                "ErrorCode": self.code,
                "ExceptionType": exc_type,
                "Traceback": "",
                "Message": message,
            }
        }


def _error(code: int, name: str, message: str) -> type[ModuleError]:
    cls = type(f"{name}Error", (ModuleError,), {"code": code, "name": name, "default_message": message})
    cls.__module__ = __name__
    return cls


# The codes visionblocks raises (designer-spec.md §11). Class names follow the designer: <ErrorId>Error.
ColumnNotFoundError = _error(1, "ColumnNotFound", "One or more specified columns were not found.")
ParameterParsingError = _error(2, "ParameterParsing", "Failed to parse parameter.")
NullOrEmptyError = _error(3, "NullOrEmpty", "One or more of inputs are null or empty.")
GreaterThanError = _error(4, "GreaterThan", "Parameter should be greater than boundary value.")
GreaterThanOrEqualToError = _error(5, "GreaterThanOrEqualTo", "Parameter should be greater than or equal to boundary value.")
LessThanOrEqualToError = _error(7, "LessThanOrEqualTo", "Parameter should be less than or equal to boundary value.")
NotInRangeValueError = _error(8, "NotInRangeValue", "Parameter value is not in the specified range.")
InvalidLearnerError = _error(13, "InvalidLearner", "Learner of invalid type is passed.")
InvalidDatasetError = _error(18, "InvalidDataset", "Dataset is not valid.")
TooFewColumnsInDatasetError = _error(20, "TooFewColumnsInDataset", "Number of columns in input dataset is less than allowed minimum.")
TooFewRowsInDatasetError = _error(21, "TooFewRowsInDataset", "Number of rows in input dataset is less than allowed minimum.")
NotLabeledDatasetError = _error(24, "NotLabeledDataset", "There is no label column in dataset.")
NotScoredDatasetError = _error(25, "NotScoredDataset", "There is no score column in dataset.")
FailedToCompleteOperationError = _error(39, "FailedToCompleteOperation", "Operation failed.")
InvalidPathForDirectoryCreationError = _error(46, "InvalidPathForDirectoryCreation", "Please specify a valid output directory.")
CouldNotOpenFileError = _error(48, "CouldNotOpenFile", "Unable to open a file.")
FileParsingFailedError = _error(49, "FileParsingFailed", "Unable to parse a file.")
NotExpectedLabelColumnError = _error(58, "NotExpectedLabelColumn", "The label column values and scored label column values are not comparable.")
LearnerTypesNotCompatibleError = _error(62, "LearnerTypesNotCompatible", "All models must have the same learner type.")
UnableToDeserializeModelError = _error(82, "UnableToDeserializeModel", "Model could not be deserialized.")
InvalidZipFileError = _error(102, "InvalidZipFile", "Given ZIP file is not in the correct format.")
ImageExceedsLimitError = _error(127, "ImageExceedsLimit", "Image pixel size exceeds allowed limit.")
ModuleOutOfMemoryError = _error(138, "ModuleOutOfMemory", "Memory has been exhausted, unable to complete running of component.")
InvalidTransformationDirectoryError = _error(158, "InvalidTransformationDirectory", "Given TransformationDirectory is invalid.")
InvalidModelDirectoryError = _error(159, "InvalidModelDirectory", "Given ModelDirectory is invalid.")
FailedToWriteOutputsError = _error(160, "FailedToWriteOutputs", "Failed to write outputs.")
LibraryError = _error(1000, "LibraryException", "Library exception.")


class PipelineError(FailedToCompleteOperationError):
    """A pipeline file that cannot run: unknown nodes or ports, mismatched types, cycles.

    The designer has no code for pipeline structure, so users see the closest one, 0039
    FailedToCompleteOperation (``code`` and ``name`` are inherited); the class is its own so
    that Python code and tracebacks can tell a refused pipeline from a failed operation.
    """

    default_message = "The pipeline is not valid."


def all_errors() -> list[type[ModuleError]]:
    """Every error class defined here, ordered by code (used by the docs)."""
    found = {v for v in globals().values() if isinstance(v, type) and issubclass(v, ModuleError) and v is not ModuleError}
    return sorted(found, key=lambda c: (c.code, c.__name__))


def by_code(code: int) -> type[ModuleError]:
    """The designer's class for ``code`` (one made by ``_error``), not a subclass sharing its code."""
    for cls in all_errors():
        if cls.code == code and cls.__bases__ == (ModuleError,):
            return cls
    raise KeyError(code)


def write_error_info(folder: Path, exc: BaseException) -> Path:
    """Write the designer's ``error_info.json`` for ``exc`` into ``folder``."""
    if isinstance(exc, ModuleError):
        record = exc.to_error_info()
    else:
        wrapped = LibraryError(f"Library Error - {type(exc).__name__}: {exc}")
        record = wrapped.to_error_info("LibraryException")
        record["Exception"]["Traceback"] = "".join(traceback.format_exception(exc))[-(_MAX_RECORD // 2):]
    text = json.dumps(record, indent=2, ensure_ascii=False)
    if len(text) > _MAX_RECORD:
        record["Exception"]["Traceback"] = ""
        text = json.dumps(record, indent=2, ensure_ascii=False)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "error_info.json"
    path.write_text(text, encoding="utf-8")
    return path
