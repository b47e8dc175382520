"""The DataFrameDirectory format: one Parquet file plus ``_meta.yaml`` (readable by pandas)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from visionblocks import errors, ports

DATA_FILE = "data.parquet"

# The columns of a scored dataset (Score Image Model's output, the web service's rows).
SCORED_LABELS = "Scored Labels"
PROBABILITY_PREFIX = "Scored Probabilities_"
LABEL_COLUMN = "label"
IDENTIFIER_COLUMN = "identifier"


def probability_column(class_name: str) -> str:
    """The column holding the probability of ``class_name``."""
    return f"{PROBABILITY_PREFIX}{class_name}"


def write_dataframe(folder: str | Path, frame: pd.DataFrame, **extra_meta) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / DATA_FILE, index=False)
    ports.write_meta(folder, ports.DATAFRAME_DIRECTORY, data=DATA_FILE, rows=len(frame),
                     columns=[str(c) for c in frame.columns], **extra_meta)
    return folder


def read_dataframe(folder: str | Path, port_label: str = "Dataset") -> pd.DataFrame:
    folder = Path(folder)
    meta = ports.require_type(folder, ports.DATAFRAME_DIRECTORY, port_label)
    path = folder / str(meta.get("data") or DATA_FILE)
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:  # missing, truncated, not Parquet
        raise errors.InvalidDatasetError(f"Input '{port_label}': {path} is not a readable Parquet table: "
                                         f"{type(exc).__name__}: {exc}") from None
