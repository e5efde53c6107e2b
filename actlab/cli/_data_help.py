"""The help texts of the data options the study commands share (--dataset, --limit): each
command says the same about what a data file must hold and what --limit shrinks."""

from __future__ import annotations

from actlab.data import names


def dataset_help(default: str) -> str:
    return (
        f"{', '.join(names())}; csv:PATH (a header row; --target names the label column) or npz:PATH (arrays "
        f"named x and y, as numpy.savez(PATH, x=..., y=...) writes them: examples in x, one class label each in "
        f"y; or x_train, y_train, x_test, y_test) (default {default})"
    )


def limit_help(default: str = "all") -> str:
    return (
        f"use at most this many training examples, stratified; the validation and test splits shrink in the "
        f"same proportion (default: {default})"
    )


__all__ = ["dataset_help", "limit_help"]
