"""`build.py classify` on PNG files and a Kaggle test.csv, through the site's ONNX reader."""
from __future__ import annotations

import numpy as np
from PIL import Image

from conftest import ROOT, run_cli
from generator.data import embedded_dataset


def held_out_digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    data = embedded_dataset(ROOT / "node_modules", ROOT / "models" / "data")
    pick = np.random.default_rng(3).choice(len(data.test_labels), count, replace=False)
    return data.test_images[pick], data.test_labels[pick]


def test_classify_pngs_prints_digit_and_confidence(quick_build, tmp_path):
    images, labels = held_out_digits(20)
    paths = []
    for i, image in enumerate(images):
        # Dark ink on white paper at 5x size, as a phone photo or a scan would be.
        big = Image.fromarray(255 - image).resize((140, 140), Image.Resampling.BILINEAR)
        paths.append(tmp_path / f"digit{i}.png")
        big.save(paths[-1])
    result = run_cli("classify", *map(str, paths), "--model", str(quick_build["out"] / "models" / "reader.onnx"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 20
    predicted = np.array([int(line.split("\t")[1]) for line in lines])
    assert all(0.0 <= float(line.split("\t")[2]) <= 1.0 for line in lines)
    assert (predicted == labels).mean() >= 0.6  # a one-epoch quick reader; the real one is far better


def test_classify_csv_writes_a_kaggle_submission(quick_build, tmp_path):
    images, labels = held_out_digits(50)
    csv = tmp_path / "test.csv"
    rows = [",".join(f"pixel{i}" for i in range(784))] + [",".join(map(str, im.ravel())) for im in images]
    csv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "submission.csv"
    result = run_cli("classify", "--csv", str(csv), "--out", str(out),
                     "--model", str(quick_build["out"] / "models" / "reader.onnx"))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 51
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, 51))
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert (predicted == labels).mean() >= 0.6


def test_classify_bad_inputs_are_one_line_errors(quick_build, tmp_path):
    model = str(quick_build["out"] / "models" / "reader.onnx")
    not_png = tmp_path / "note.png"
    not_png.write_text("hello")
    bad_csv = tmp_path / "test.csv"
    bad_csv.write_text(",".join(f"pixel{i}" for i in range(784)) + "\n1,2,3\n")
    cases = [
        (["classify", str(not_png), "--model", model], "note.png"),
        (["classify", "--csv", str(bad_csv), "--out", str(tmp_path / "s.csv"), "--model", model], "test.csv"),
        (["classify", str(not_png), "--model", str(tmp_path / "missing.onnx")], "missing.onnx"),
        (["classify"], "classify"),
    ]
    for args, name in cases:
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and name in result.stderr and "Traceback" not in result.stderr
