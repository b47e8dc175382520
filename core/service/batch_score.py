"""One-command batch scoring: ``visionblocks score MODEL_DIR FOLDER_OR_ARCHIVE --out FILE``.

The same steps as a pipeline of Convert to Image Directory and Score Image Model, with the same
engine (:func:`visionblocks.data.convert.convert`, :class:`~visionblocks.learn.score.Scorer`,
:func:`~visionblocks.learn.score.score_directory`), so the rows are the module's rows: images
stream through the model batch by batch and the table is written row group by row group. The
file gets one more column than the module's output, ``file``: where each image came from in the
folder or archive, since a bare image id means little outside a pipeline.

Everything is staged in a temporary folder next to the output file and the file is renamed into
place at the end, so an interrupted run leaves no half-written table.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from visionblocks.device import launch
from visionblocks.learn.choices import DEFAULT_BATCH_SIZE
from visionblocks import errors, ports
from visionblocks.dataframe import DATA_FILE, IDENTIFIER_COLUMN
from visionblocks.imagedir import ImageDirectory
from visionblocks.progress import Progress

FORMATS = (".parquet", ".csv")
FILE_COLUMN = "file"


def output_format(out: Path) -> str:
    """``.parquet`` or ``.csv`` from ``out``'s suffix; ParameterParsing (0002) for anything else."""
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise errors.ParameterParsingError(
            f"Cannot tell the format of {out}: the output file must end in .parquet or .csv.")
    return suffix


def score_folder(model_dir: str | Path, source: str | Path, out: str | Path, *, device=None,
                 precision: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None):
    """Score the images of the folder or archive ``source`` (or an ImageDirectory) with the model in
    ``model_dir`` and write the rows to ``out`` (.parquet or .csv); the ScoreSummary."""
    from visionblocks.learn.score import Scorer, score_directory

    out, source = Path(out), Path(source)
    suffix = output_format(out)
    # Under torchrun every process converts and scores its shard; rank 0 reports and writes.
    leader = launch().rank == 0
    progress = (progress or Progress("score")) if leader else Progress(quiet=True)
    scorer = Scorer(model_dir, device, precision, batch_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".visionblocks-score-", dir=out.parent) as work:
        work = Path(work)
        directory = image_directory(source, work / "images", progress)
        progress.log(f"{scorer!r} on {len(directory)} images")
        summary = score_directory(scorer, directory, work / "scored", batch_size, progress)
        if not leader:
            return summary
        staged = work / f"scores{suffix}"
        _write_with_files(work / "scored" / DATA_FILE, directory, staged, suffix)
        os.replace(staged, out)
    progress.log(f"scored {summary.rows} images in {summary.seconds:.1f} s "
                 f"({summary.images_per_second:.1f} images/s): {out}")
    return summary


def image_directory(source: Path, staging: Path, progress: Progress) -> ImageDirectory:
    """``source`` as an ImageDirectory: itself when it is one, else converted into ``staging``."""
    from visionblocks.data.convert import convert

    if source.is_dir() and ports.port_type_of(source) == ports.IMAGE_DIRECTORY:
        return ImageDirectory.load(source, "Dataset")
    staging.mkdir(parents=True)
    convert(source, staging, progress=progress.child("convert"))
    return ImageDirectory.load(staging, "Dataset")


def _write_with_files(scored: Path, directory: ImageDirectory, out: Path, suffix: str) -> None:
    """Copy the scored Parquet file to ``out`` batch by batch, with the ``file`` column after the id."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    files = {entry.id: entry.base_file_name or entry.file_name for entry in directory.entries}
    source = pq.ParquetFile(scored)
    schema = source.schema_arrow.insert(1, pa.field(FILE_COLUMN, pa.string()))
    writer = pq.ParquetWriter(out, schema) if suffix == ".parquet" else pacsv.CSVWriter(out, schema)
    with writer:
        for batch in source.iter_batches():
            ids = batch.column(IDENTIFIER_COLUMN).to_pylist()
            column = pa.array([files[i] for i in ids], pa.string())
            writer.write_table(pa.Table.from_batches([batch]).add_column(1, FILE_COLUMN, column))


def write_rows(rows: list[dict], out: str | Path) -> None:
    """Write a service's rows to ``out`` (.parquet or .csv), through a temporary file and a rename."""
    import pandas as pd

    out = Path(out)
    suffix = output_format(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, staged = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    try:
        table = pd.DataFrame(rows)
        if suffix == ".parquet":
            table.to_parquet(staged, index=False)
        else:
            table.to_csv(staged, index=False)
        os.replace(staged, out)
    finally:
        Path(staged).unlink(missing_ok=True)
