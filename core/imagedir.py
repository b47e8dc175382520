"""The ImageDirectory format: reading, writing and loading images as tensors.

On disk (designer-spec §1.1)::

    _meta.yaml      type: ImageDirectory, image_list, schema, labeled, count, and optionally
                    transform (a _transforms.json applied when images are loaded), transform_mode
                    and materialized (how many leading ops are already baked into the files);
                    plain: every file is an 8-bit RGB/gray PNG or JPEG without EXIF rotation
    images.lst      one JSON object per line: {"image_info": {"file_name", "width", "height",
                    "mode", "base_file_name"}, "id": <int>, "category": <label or absent>}
    _schema.json    columns and, when labeled, categories [{"id", "name"}] in class-id order
    image/          the image files

A stored transform is applied each time an image is loaded, so random augmentation is drawn
afresh every epoch instead of being frozen into the files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from visionblocks import errors, ports

IMAGE_LIST = "images.lst"
SCHEMA = "_schema.json"
TRANSFORMS = ports.TRANSFORMS_FILE


@dataclass
class ImageEntry:
    id: int
    file_name: str
    category: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None  # the mode of the original image, before conversion to RGB
    base_file_name: str | None = None  # where the image came from, relative to the converted input

    def to_json(self) -> dict:
        info = {"file_name": self.file_name, "width": self.width, "height": self.height, "mode": self.mode,
                "base_file_name": self.base_file_name}
        record = {"image_info": {k: v for k, v in info.items() if v is not None}, "id": self.id}
        if self.category is not None:
            record["category"] = self.category
        return record

    @classmethod
    def from_json(cls, record: dict) -> "ImageEntry":
        info = record.get("image_info") or {}
        return cls(int(record["id"]), info["file_name"], record.get("category"),
                   info.get("width"), info.get("height"), info.get("mode"), info.get("base_file_name"))


@dataclass
class ImageDirectory:
    root: Path
    entries: list[ImageEntry]
    classes: list[str] | None = None  # class names in class-id order; None when unlabeled
    transform: list | None = None  # ordered [op, args] pairs applied on load
    transform_mode: str | None = None  # "training" or "inference"
    meta: dict = field(default_factory=dict)
    # How many leading (deterministic) ops of ``transform`` are already baked into the image files;
    # loading applies only the rest. ``transform`` itself stays the whole list, so a model trained
    # on this directory can apply all of it to raw images at scoring time.
    materialized: int = 0
    # Every file is an 8-bit RGB or gray PNG/JPEG without EXIF rotation (Convert to Image Directory
    # makes them so), so a plain decode gives exactly what visionblocks.images.to_rgb would.
    plain: bool = False

    @property
    def labeled(self) -> bool:
        return self.classes is not None and all(e.category is not None for e in self.entries)

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes or [])}

    def targets(self) -> list[int]:
        """Class ids of every entry (-1 when unlabeled)."""
        mapping = self.class_to_idx
        return [mapping.get(e.category, -1) if e.category is not None else -1 for e in self.entries]

    def path_of(self, entry: ImageEntry) -> Path:
        return self.root / entry.file_name

    def __len__(self) -> int:
        return len(self.entries)

    # -- reading -------------------------------------------------------------------------
    @classmethod
    def load(cls, root: str | Path, port_label: str = "Input image directory") -> "ImageDirectory":
        root = Path(root)
        meta = ports.require_type(root, ports.IMAGE_DIRECTORY, port_label)
        try:
            return cls._parse(root, meta)
        # A hand-edited or damaged folder: any malformed value is the same user problem.
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise errors.InvalidDatasetError(
                f"{root} is not a readable ImageDirectory: {type(exc).__name__}: {exc}") from None

    @classmethod
    def _parse(cls, root: Path, meta: dict) -> "ImageDirectory":
        lines = (root / str(meta.get("image_list") or IMAGE_LIST)).read_text(encoding="utf-8").splitlines()
        entries = [ImageEntry.from_json(json.loads(line)) for line in lines if line.strip()]
        schema = json.loads((root / str(meta.get("schema") or SCHEMA)).read_text(encoding="utf-8"))
        categories = schema.get("categories")
        classes = [str(c["name"]) for c in sorted(categories, key=lambda c: int(c["id"]))] \
            if categories is not None else None
        transform = None
        if meta.get("transform"):
            transform = json.loads((root / str(meta["transform"])).read_text(encoding="utf-8"))
            if not isinstance(transform, list):
                raise ValueError(f"{meta['transform']} is not a list of [op, args] pairs")
        return cls(root, entries, classes, transform, meta.get("transform_mode"), meta,
                   int(meta.get("materialized", 0) or 0), bool(meta.get("plain", False)))

    # -- writing -------------------------------------------------------------------------
    @staticmethod
    def write(root: str | Path, entries: Iterable[ImageEntry], classes: list[str] | None,
              transform: list | None = None, transform_mode: str | None = None, materialized: int = 0,
              plain: bool = False, **extra_meta) -> "ImageDirectory":
        """Write the list, schema and meta for images already placed under ``root``."""
        root = Path(root)
        entries = list(entries)
        with open(root / IMAGE_LIST, "w", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
        columns = [
            {"name": "image", "type": "bytes", "mime": "image/png", "ref": "image_info"},
            {"name": "id", "type": "int", "feature": False},
        ]
        schema = {"columns": columns}
        if classes is not None:
            columns.append({"name": "category", "type": "string",
                            "properties": {"annotation_type": "COCO_classification"}})
            schema["categories"] = [{"id": i, "name": name} for i, name in enumerate(classes)]
        (root / SCHEMA).write_text(json.dumps(schema, indent=2, ensure_ascii=False), encoding="utf-8")
        meta = {"image_list": IMAGE_LIST, "schema": SCHEMA, "labeled": classes is not None, "count": len(entries),
                "plain": bool(plain)}
        if transform is not None:
            (root / TRANSFORMS).write_text(json.dumps(transform, indent=2), encoding="utf-8")
            meta.update(transform=TRANSFORMS, transform_mode=transform_mode, materialized=materialized)
        meta.update(extra_meta)
        ports.write_meta(root, ports.IMAGE_DIRECTORY, **meta)
        return ImageDirectory(root, entries, classes, transform, transform_mode,
                              {"type": ports.IMAGE_DIRECTORY, **meta}, materialized if transform is not None else 0,
                              bool(plain))
