"""Export two small data sets bundled with scikit-learn to plain CSV files.

Run by maintainers only, never while the course runs. The course reads the
CSV files in this folder and needs nothing from here at run time.

It needs scikit-learn, which is NOT a dependency of this project. Install it
apart from everything else, for example:

    python3 -m venv /tmp/skl
    /tmp/skl/bin/pip install scikit-learn
    /tmp/skl/bin/python data/make_datasets.py           # (re)write the CSVs
    /tmp/skl/bin/python data/make_datasets.py --check   # compare, write nothing

It writes, next to this script:

    diabetes.csv  442 rows: age,sex,bmi,bp,s1,...,s6,target (original units,
                  NOT the scaled copy that load_diabetes() returns by default)
    digits.csv    1797 rows: pixel_0,...,pixel_63,label (integers)

The output is deterministic: a header line, then one line per sample, fields
separated by ",", lines ended by "\\n", UTF-8 (ASCII in fact). A number that is
a whole number is written without a decimal point ("59", not "59.0"); any
other number is written as Python's repr(), the shortest text that reads back
to the very same float ("32.1", "4.8598").
"""

import argparse
import hashlib
import sys
from pathlib import Path

from sklearn.datasets import load_diabetes, load_digits

HERE = Path(__file__).resolve().parent


def fmt(x):
    """Shortest text that reads back to exactly the float x; no '.0' for whole numbers."""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    text = repr(x)
    assert "e" not in text and "n" not in text, text  # no exponent, nan or inf
    return text


def to_csv(header, rows):
    lines = [",".join(header)]
    lines += [",".join(fmt(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode("ascii")


def diabetes_csv():
    d = load_diabetes(scaled=False)  # original values, not standardised
    assert d.data.shape == (442, 10) and d.target.shape == (442,)
    header = list(d.feature_names) + ["target"]
    assert header == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"]
    rows = (list(x) + [y] for x, y in zip(d.data, d.target, strict=True))
    return to_csv(header, rows)


def digits_csv():
    d = load_digits()
    assert d.data.shape == (1797, 64) and d.target.shape == (1797,)
    pixels = d.data.astype(int)
    assert (pixels == d.data).all() and pixels.min() >= 0 and pixels.max() <= 16
    header = [f"pixel_{i}" for i in range(64)] + ["label"]  # pixel_i = row i // 8, column i % 8
    rows = (list(x) + [y] for x, y in zip(pixels, d.target, strict=True))
    return to_csv(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a file differs from what would be written",
    )
    args = parser.parse_args()

    ok = True
    for name, make in [("diabetes.csv", diabetes_csv), ("digits.csv", digits_csv)]:
        content = make()
        path = HERE / name
        digest = hashlib.sha256(content).hexdigest()
        if args.check:
            same = path.exists() and path.read_bytes() == content
            ok = ok and same
            print(f"{name}: {'same' if same else 'DIFFERENT'}  sha256 {digest}")
        else:
            path.write_bytes(content)
            print(f"{name}: {len(content)} bytes  sha256 {digest}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
