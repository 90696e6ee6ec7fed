"""Kaggle's digit-recognizer CSVs: ``train.csv`` (label + 784 pixels) and ``test.csv`` (784 pixels), checked cell by
cell."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from generator.data.dataset import PIXELS, SIDE, Dataset, Origin, split_dataset
from generator.errors import InputError, one_line

TRAIN_HEADER = ("label", *(f"pixel{i}" for i in range(PIXELS)))
TEST_HEADER = TRAIN_HEADER[1:]
_INT_FIELD = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
_LONG_NUMBER = re.compile(r"\d{5}")  # 5+ digits: out of every range, may not fit int16


def _read_lines(path: Path) -> list[str]:
    """A text file's lines (UTF-8, BOM tolerated)."""
    try:
        return Path(path).read_bytes().decode("utf-8-sig").splitlines()
    except OSError as exc:
        raise InputError(path, f"cannot read: {one_line(exc.strerror or exc)}") from None
    except UnicodeDecodeError:
        raise InputError(path, "not a UTF-8 text file") from None


def _check_header(path: Path, line: str, header: tuple[str, ...]) -> None:
    """InputError unless line is exactly the expected CSV header."""
    fields = [field.strip().strip('"') for field in line.split(",")]
    if fields == list(header):
        return
    expected = f"{header[0]},{header[1]},...,{header[-1]}"
    if not line.strip() or _INT_FIELD.fullmatch(fields[0]):
        raise InputError(f"{path} line 1", f"missing header row (expected {expected})")
    if len(fields) != len(header):
        raise InputError(f"{path} line 1", f"header has {len(fields)} columns (expected {len(header)}: {expected})")
    column = next(i for i, (got, want) in enumerate(zip(fields, header)) if got != want)
    raise InputError(f"{path} line 1",
                     f"header column {column + 1} is {fields[column][:40]!r} (expected {header[column]!r})")


def _range_problem(name: str, value: object) -> str:
    """The message for a value outside its column's range (labels 0-9, pixels 0-255)."""
    if name == "label":
        return f"label value {value} out of range 0-9"
    return f"pixel value {value} out of range 0-255 (column {name})"


def _field_problem(line: str, header: tuple[str, ...]) -> str | None:
    """What is wrong with a line's first bad field: not an integer, or too many digits to fit any range."""
    for name, field in zip(header, line.split(",")):
        if not _INT_FIELD.fullmatch(field):
            return f"{name} value {field.strip()[:40]!r} is not an integer"
        if len(field.strip().lstrip("+-").lstrip("0")) > 4:
            return _range_problem(name, field.strip()[:40])
    return None


def _plain_digits(line: str) -> bool:
    """Whether a line is only non-empty fields of ASCII digits (the common case, cheap to check)."""
    digits = line.replace(",", "")
    return digits.isascii() and digits.isdigit() and ",," not in line and line[0] != "," and line[-1] != ","


def _row_problem(path: Path, rows: list[str], header: tuple[str, ...]) -> InputError | None:
    """The first row with an empty line, the wrong column count or a bad field, as an InputError naming its line."""
    for number, line in enumerate(rows, start=2):
        columns = line.count(",") + 1
        if not line.strip():
            return InputError(f"{path} line {number}", "empty line")
        if columns != len(header):
            return InputError(f"{path} line {number}", f"{columns} columns (expected {len(header)})")
        if not _plain_digits(line) and (problem := _field_problem(line, header)):
            return InputError(f"{path} line {number}", problem)
    for number, line in enumerate(rows, start=2):  # plain digits can still overflow int16
        if _LONG_NUMBER.search(line) and (problem := _field_problem(line, header)):
            return InputError(f"{path} line {number}", problem)
    return None


def _read_int_csv(path: Path, header: tuple[str, ...]) -> np.ndarray:
    """The int16 rows of a CSV with exactly this header; line numbers in errors count the header as line 1."""
    lines = _read_lines(path)
    _check_header(path, lines[0] if lines else "", header)
    rows = lines[1:]
    while rows and not rows[-1].strip():
        rows.pop()
    if not rows:
        raise InputError(path, "no data rows after the header")
    try:
        values = np.loadtxt(rows, delimiter=",", dtype=np.int16, comments=None, ndmin=2)
        failure = f"shape {values.shape}"
    except (ValueError, OverflowError) as exc:
        values, failure = None, one_line(exc)
    if values is not None and values.shape == (len(rows), len(header)):
        return values
    raise _row_problem(path, rows, header) or InputError(path, f"cannot parse as integers: {failure}")


def _check_ranges(path: Path, values: np.ndarray, header: tuple[str, ...]) -> np.ndarray:
    """The values, after an InputError naming the line and column of the first label or pixel out of range."""
    highs = np.array([9 if name == "label" else 255 for name in header])
    bad = np.argwhere((values < 0) | (values > highs))
    if bad.size:
        row, column = bad[0]
        raise InputError(f"{path} line {row + 2}", _range_problem(header[column], values[row, column]))
    return values


def read_kaggle_train_csv(path: Path, seed: int = 0) -> Dataset:
    """A Kaggle train.csv (label,pixel0..pixel783) split 80/20, stratified and seeded."""
    values = _check_ranges(path, _read_int_csv(path, TRAIN_HEADER), TRAIN_HEADER).astype(np.uint8)
    rows = Origin("kaggle-train", np.arange(len(values)))           # data rows, 0-based (the header not counted)
    return split_dataset("csv", str(path), values[:, 1:].reshape(-1, SIDE, SIDE), values[:, 0].copy(), seed, rows)


def read_kaggle_test_csv(path: Path) -> np.ndarray:
    """A Kaggle test.csv (pixel0..pixel783, no label) as uint8 [N,28,28]."""
    values = _check_ranges(path, _read_int_csv(path, TEST_HEADER), TEST_HEADER)
    return values.astype(np.uint8).reshape(-1, SIDE, SIDE)

