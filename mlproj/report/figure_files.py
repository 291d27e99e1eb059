"""A figure's files: PNG and PDF bytes written into figures/, without importing matplotlib (the
bytes come from a figure worker, mlproj.workflow.figure_pool)."""

from __future__ import annotations

from pathlib import Path

from mlproj.store.files import atomic_write


def write(folder: Path, stem: str, png: bytes, pdf: bytes) -> list[Path]:
    """folder/stem.png and folder/stem.pdf, each written atomically (the folder is created)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, content in (("png", png), ("pdf", pdf)):
        target = folder / f"{stem}.{suffix}"
        with atomic_write(target, "wb") as handle:
            handle.write(content)
        written.append(target)
    return written
