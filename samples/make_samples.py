"""Write the sample exports in this folder (see README.md); run it again after a schema change.

    python samples/make_samples.py [--out DIR]

Every record is synthetic (:mod:`artreport.fakedata`): no real patients. The output is the same
on every run, byte for byte, so that re-running it leaves git clean unless the schema changed.
"""

from __future__ import annotations

import argparse
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from artreport.fakedata import HeaderStyle, fake_rows, write_rows
from artreport.schema import load_schema

SEED = 2024
ORGID = "ZJ3301001"
HERE = Path(__file__).resolve().parent


class Sample(NamedTuple):
    file: str
    record_type: str
    rows: int
    headers: HeaderStyle = "label"
    encoding: str = "utf-8"


#: The valid samples. All start at case 1, so every cycle refers to a record of
#: information.xlsx and every per-cycle record to a cycle of cycles.xlsx.
SAMPLES = (
    Sample("information.xlsx", "information", 40),
    Sample("cycles.xlsx", "cycle", 40),
    # What Chinese Excel's "Save as CSV" writes: GB18030, no BOM, CRLF.
    Sample("ovum.csv", "ovum", 36, encoding="gb18030"),
    Sample("transplant.xlsx", "transplant", 30),
    # Hospital systems that export JSON use the platform's field names.
    Sample("eresult.json", "eresult", 36, headers="name"),
    Sample("childbirth.xlsx", "childbirth", 20),
)

MISTAKES_FILE = "cycles_with_mistakes.xlsx"
MISTAKES_ROWS = 24


class Mistake(NamedTuple):
    row: int  # as the spreadsheet shows it: header row 1, first data row 2
    field: str  # API name
    value: Any  # what the clerk left in the cell; None for a blank cell
    what: str


#: One deliberate mistake on each of these rows of cycles_with_mistakes.xlsx; every other row
#: and every other cell is valid. Cycle records have no ID-number field, so the mistake
#: "an 18-digit ID number stored as a number" cannot occur in this file.
MISTAKES = (
    Mistake(4, "artplan", None, "required 方案 left blank"),
    Mistake(7, "tstatus", "abc", "`abc` in the integer field 治疗状态"),
    Mistake(10, "startDate", "2023-02-30", "impossible date 2023-02-30, typed as text"),
    Mistake(13, "triggerdate", "5月6日 晚8点", "date-time typed as text, without a year"),
    Mistake(16, "ordernumber", 13957112345, "a mobile number pasted into 周期次数: above int32"),
    Mistake(19, "orgid", "ZJ3301002", "another organisation's orgid (configured: ZJ3301001)"),
    Mistake(22, "cycleid", "CYC00000020", "the 周期ID of row 21 again"),
)

# Excel stores when a file was saved; a fixed moment keeps the samples identical across runs.
_SAVED_AT = (2024, 7, 1, 9, 0, 0)
_SAVED_AT_ISO = "2024-07-01T09:00:00Z"
_CORE_TIMESTAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def _fixed_timestamps(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMESTAMP.sub(rb"\g<1>" + _SAVED_AT_ISO.encode() + rb"\g<2>", data)
            archive.writestr(zipfile.ZipInfo(info.filename, _SAVED_AT), data, zipfile.ZIP_DEFLATED)


def mistaken_rows() -> Iterator[dict[str, Any]]:
    """The cycle rows of the mistakes file, keyed by API name."""
    by_row = {m.row: m for m in MISTAKES}
    cycle = load_schema().get("cycle")
    for index, row in enumerate(fake_rows(cycle, MISTAKES_ROWS, seed=SEED, orgid=ORGID)):
        mistake = by_row.get(index + 2)
        if mistake is not None:
            if mistake.value is None:
                row.pop(mistake.field, None)
            else:
                row[mistake.field] = mistake.value
        yield row


def write_samples(out: Path) -> list[Path]:
    schema = load_schema()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for sample in SAMPLES:
        record_type = schema.get(sample.record_type)
        path = out / sample.file
        rows = fake_rows(record_type, sample.rows, seed=SEED, orgid=ORGID)
        write_rows(path, record_type, rows, headers=sample.headers, encoding=sample.encoding)
        written.append(path)
    path = out / MISTAKES_FILE
    write_rows(path, schema.get("cycle"), mistaken_rows())
    written.append(path)
    for path in written:
        if path.suffix == ".xlsx":
            _fixed_timestamps(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    options = parser.parse_args()
    for path in write_samples(options.out):
        print(path)


if __name__ == "__main__":
    main()
