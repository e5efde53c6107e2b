"""Data sets: one call gives split, standardised tensors in memory.

``load(spec)`` returns a :class:`Dataset` with ``train``, ``val`` and ``test`` :class:`Split`\\ s
(float32 ``x``, int64 ``y`` in 0..k-1)::

    ds = load("fashion-mnist", seed=0, limit=2000, shape="image32x3")
    ds.train.x.shape      # (2000, 3, 32, 32)
    ds.input_shape, ds.n_classes, ds.classes, ds.info["split"]

Data sets (``names()``), their natural (``shape="auto"``) example shape and split rule:

=================  ===============  =======================================================
``mnist1d``        ``(1, 40)``      generated locally by ``mnist1d.data.make_dataset`` with
                                    ``get_dataset_args()`` defaults (its seed 42; 4000 train,
                                    1000 test), cached as ``.npz`` under the data dir
``iris``           ``(4,)``         scikit-learn, bundled
``wine``           ``(13,)``        scikit-learn, bundled
``breast_cancer``  ``(30,)``        scikit-learn, bundled
``digits``         ``(64,)``        scikit-learn 8x8 digits, flat like the other tabular sets;
                                    image shapes read them as ``(1, 8, 8)`` images
``mnist``          ``(1, 28, 28)``  IDX files
``fashion-mnist``  ``(1, 28, 28)``  IDX files (also from Debian's ``dataset-fashion-mnist``)
``kmnist``         ``(1, 28, 28)``  IDX files
``usps``           ``(1, 16, 16)``  libsvm ``usps.bz2`` / ``usps.t.bz2`` (values in [-1, 1])
``cifar10``        ``(3, 32, 32)``  ``cifar-10-python.tar.gz`` or ``cifar-10-batches-py/``
``csv:PATH``       ``(d,)``         header row; ``target=COLUMN`` names the label column; the
                                    other columns must be numeric; ``.tsv`` is tab-separated
``npz:PATH``       ``x.shape[1:]``  arrays ``x, y`` or ``x_train, y_train, x_test, y_test``
``FILE.py:FN``     ``x.shape[1:]``  a loader of yours (also ``package.module:FN``), called
                                    with ``data_args``: ``(x, y)``, ``(train, test)`` or
                                    ``(train, val, test)`` of arrays, tensors or torch
                                    Datasets (see :mod:`actlab.data._user`)
=================  ===============  =======================================================

**Splits.** Sets with an official test set (mnist1d, mnist, fashion-mnist, kmnist, usps,
cifar10, npz with ``x_test``, a loader's ``(train, test)``) keep it as test; validation is a
stratified ``val_fraction`` of the official training set; a loader's ``(train, val, test)`` is kept
as given. The others (scikit-learn, csv, npz with only ``x, y``, a loader's ``(x, y)``) are split
stratified into test (``test_fraction`` of all examples), validation (``val_fraction`` of all)
and train (the rest). Carving never takes a class's last training example. ``limit`` subsamples
train to ``limit`` examples (stratified) and caps val and test to the same fraction of their size.
Every random choice comes from ``numpy.random.default_rng(seed)``: same seed, identical tensors.

**Standardisation**, always with statistics of the train split only (recorded in
``info["standardisation"]``): images are first scaled to [0, 1] (uint8 / 255; USPS (v + 1) / 2;
digits v / 16 when read as images), then images and signals (examples ``(C, ...)``) are
normalised per channel; tabular data (examples ``(d,)``) per feature. A constant channel or
feature is only centred.

**Too big for memory.** A loader's torch Datasets whose examples would take more than 2 GiB as
tensors (:data:`actlab.data._user.MAX_MATERIALISED_BYTES`) stream: the splits are
:class:`StreamedSplit`\\ s that hold the Dataset, the split's indices and the labels (read in
one pass, or taken from a ``targets`` / ``labels`` attribute), and yield standardised batches
from ``split.batches(batch_size)``, a ``torch.utils.data.DataLoader``. The split, ``limit``,
``train_fraction``, pixel scaling, the shapes and the train-only standardisation are as above
(the statistics accumulated in float64 in one pass over the train split); examples are float32
before they are standardised, each is checked as it is read, and ``split.x`` does not exist:
the trainer reads batches, the packed trainer is not used (each run trains alone), diagnostics
use the first 1024 validation examples (see :mod:`actlab.data._stream`).

**Shapes** (``shape=``):

* ``"auto"``: the natural shape above.
* ``"flat"``: a 1-D vector of the natural shape's size (standardised as in ``auto``, then flattened).
* ``"image32x3"``: 3x32x32 for the CIFAR CNN of the article "SELU vs ReLU on CIFAR-10": 28x28
  images are zero-padded by 2 pixels, other sizes resized bilinearly to 32x32, grayscale repeated to 3 channels.
* ``"image28"``: 1x28x28 grayscale: other sizes (USPS 16x16, digits 8x8) resized bilinearly.

**Files** for mnist, fashion-mnist, kmnist, usps and cifar10 are looked for in ``data_dir``,
``data_dir/<name>``, ``data_dir/<TorchvisionName>/raw``, ``$ACTLAB_DATA/<name>`` (default
``~/.cache/actlab/<name>``) and, for fashion-mnist, the Debian package's folder. Missing files are
downloaded (``download=True``) from the publishers' URLs and checked against torchvision's MD5s
(see :mod:`actlab.data._fetch`); ``download=False`` never touches the network.

Everything a user can get wrong raises :class:`~actlab.ActlabError` with a one-line message.
"""

from actlab.data._dataset import Dataset, Split, StreamedSplit
from actlab.data._load import available, describe, load, names
from actlab.data._prepare import SHAPES

__all__ = ["Dataset", "Split", "StreamedSplit", "SHAPES", "available", "describe", "load", "names"]
