"""The readers: every format and encoding a hospital sends, and every way a file can be wrong."""

from __future__ import annotations

import datetime
import json
import random
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from artreport.errors import InputError
from artreport.messages import catalogue
from artreport.readers import Notice, Table, open_table
from artreport.schema import load_schema

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples-real"
TRANSPLANT = load_schema().get("transplant")


def known_transplant_header(text: str) -> bool:
    return TRANSPLANT.match_header(text) is not None


def read(path: Path, **options: Any) -> tuple[Table, list[tuple[int, list[Any]]]]:
    with open_table(path, **options) as table:
        rows = list(table.rows())
    return table, rows


def input_error(path: Path, **options: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        read(path, **options)
    for lang in ("zh", "en"):  # every placeholder filled: no parameter forgotten or misnamed
        assert "{" not in caught.value.message(lang), caught.value.message(lang)
    return caught.value


def codes(notices: list[Notice]) -> list[str]:
    return [notice.code for notice in notices]


def write_xlsx(path: Path, rows: list[list[Any]], title: str = "Sheet1") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


# --- CSV encodings -------------------------------------------------------------------------

CHINESE_CSV = "周期ID,患者姓名,移植时间\nCYC001,张三,2024-03-01\nCYC002,李四,2024-03-02\n"


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected"),
    [
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("utf-8", b"", "utf-8"),
        ("gb18030", b"", "gb18030"),
        ("gb18030", b"\x84\x31\x95\x33", "gb18030"),  # GB18030's own byte-order mark
    ],
)
def test_csv_encoding_is_detected(tmp_path, encoding, prefix, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(prefix + CHINESE_CSV.encode(encoding))

    table, rows = read(path)
    again, _ = read(path, encoding=encoding)  # also when the clerk names the encoding
    assert again.headers == table.headers

    assert table.encoding == expected
    assert table.headers == ["周期ID", "患者姓名", "移植时间"]
    assert rows == [(2, ["CYC001", "张三", "2024-03-01"]), (3, ["CYC002", "李四", "2024-03-02"])]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_first_non_ascii_byte_far_into_the_file_decides(tmp_path, encoding):
    ascii_rows = "".join(f"CYC{n:06d},Zhang,2024-03-01\n" for n in range(20_000))
    path = tmp_path / "late.csv"
    path.write_bytes(f"cycle,name,date\n{ascii_rows}CYC999999,王五,2024-03-03\n".encode(encoding))

    table, rows = read(path)

    assert table.encoding == encoding
    assert rows[-1] == (20_002, ["CYC999999", "王五", "2024-03-03"])


@pytest.mark.parametrize("bad_row", [3, 2_000])
def test_mixed_encodings_are_an_error_naming_the_row(tmp_path, bad_row):
    lines = [CHINESE_CSV.splitlines()[0].encode("utf-8")]
    lines += [f"CYC{n:06d},张三,2024-03-01".encode() for n in range(2, bad_row)]
    lines.append("CYC999999,李四,2024-03-02".encode("gb18030"))
    lines += [f"CYC{n:06d},王五,2024-03-01".encode() for n in range(10)]
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")

    error = input_error(path)

    assert error.code == "input-encoding"
    assert error.params == {"row": bad_row, "encoding": "utf-8"}


def test_undecidable_encoding_asks_for_the_encoding_option(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\nx,y\ncafé,Zürich\n".encode("latin-1"))

    error = input_error(path)

    assert error.code == "input-encoding-undetected"
    assert error.params == {"line": 3}
    assert "--encoding" in error.message("en")


def test_encoding_option_overrides_detection(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("name,city\ncafé,Zürich\n".encode("latin-1"))

    table, rows = read(path, encoding="latin-1")

    assert table.encoding == "iso8859-1"
    assert rows == [(2, ["café", "Zürich"])]


def test_encoding_option_utf8_still_drops_the_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CHINESE_CSV.encode())

    table, _ = read(path, encoding="UTF8")

    assert table.headers[0] == "周期ID"


def test_unknown_encoding_name(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CHINESE_CSV, encoding="utf-8")

    error = input_error(path, encoding="no-such-codec")

    assert (error.code, error.params) == ("input-encoding-unknown", {"encoding": "no-such-codec"})


def test_excel_unicode_text_is_utf16_tab_separated(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes(CHINESE_CSV.replace(",", "\t").replace("\n", "\r\n").encode("utf-16"))

    table, rows = read(path)

    assert (table.format, table.encoding) == ("csv", "utf-16")
    assert table.headers == ["周期ID", "患者姓名", "移植时间"]
    assert rows[0] == (2, ["CYC001", "张三", "2024-03-01"])


# --- CSV structure -------------------------------------------------------------------------


def test_row_numbers_are_record_numbers_across_multiline_cells(tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text(
        'id,note\r\n1,"first line\r\nsecond line"\r\n2,plain\r\n3,"a\nb\nc"\r\n4,end\r\n',
        encoding="utf-8",
    )

    _, rows = read(path)

    assert rows == [
        (2, ["1", "first line\r\nsecond line"]),
        (3, ["2", "plain"]),
        (4, ["3", "a\nb\nc"]),
        (5, ["4", "end"]),
    ]


@pytest.mark.parametrize(
    ("text", "headers"),
    [
        ("周期ID\t姓名\nCYC1\t张三\n", ["周期ID", "姓名"]),
        ("周期ID;姓名\nCYC1;张三\n", ["周期ID", "姓名"]),
        ("周期ID,是否供精 1是;2否\nCYC1,1\n", ["周期ID", "是否供精 1是;2否"]),
        ('"周期ID","备注,说明\tx"\nCYC1,1\n', ["周期ID", "备注,说明\tx"]),
    ],
)
def test_delimiter_is_sniffed_from_the_header(tmp_path, text, headers):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")

    table, rows = read(path)

    assert table.headers == headers
    assert rows[0][1][0] == "CYC1"


@pytest.mark.parametrize(
    ("title", "delimiter"),
    [
        ("移植记录导出,统计时间：2024年6月", "\t"),  # what a HIS names .xls
        ("移植记录导出,统计时间：2024年6月", ";"),
        ("移植记录导出\t统计时间：2024年6月", ","),
        ("移植记录导出;统计时间：2024年6月", ","),
    ],
)
def test_a_title_line_above_the_header_does_not_decide_the_delimiter(tmp_path, title, delimiter):
    header = ["周期ID", "移植ID", "移植时间"]
    rows = [["CYC1", "T1", "2024-01-01"], ["CYC2", "T2", "2024-01-02"]]
    lines = [title, delimiter.join(header)] + [delimiter.join(row) for row in rows]
    path = tmp_path / "export.xls"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))

    table, read_rows = read(path, is_known_header=known_transplant_header)

    assert (table.header_row, table.headers) == (2, header)
    assert read_rows == [(3, rows[0]), (4, rows[1])]


def test_blank_rows_are_skipped_but_keep_their_numbers_and_short_rows_are_padded(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b,c\n\n1,2,3\n,,\n4\n", encoding="utf-8")

    table, rows = read(path)

    assert rows == [(3, ["1", "2", "3"]), (5, ["4", "", ""])]
    assert table.notices == []


def test_a_csv_row_wider_than_the_others_is_marked_as_shifted(tmp_path):
    """An exporter that does not quote an address holding a comma moves every later value one
    column right: the name lands in the ID number's column. Such a row must not be sent."""
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c\n1,2,3\n3,4,5,lost\n5,6\n7,8,,\n", encoding="utf-8")

    table, rows = read(path)

    assert rows == [
        (2, ["1", "2", "3"]),
        (3, ["3", "4", "5"]),
        (4, ["5", "6", ""]),
        (5, ["7", "8", ""]),
    ]
    # Row 5's extra cell is empty, but no other row has one: its last value moved there too.
    shifted = ("row-columns-shifted", {"cells": 4, "width": 3, "extra": 1})
    assert table.row_problems == {3: [shifted], 5: [shifted]}
    assert table.notices == []


def test_a_trailing_delimiter_on_every_line_is_no_shift(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("a,b\n1,2,\n3,4,\n", encoding="utf-8")

    table, rows = read(path)

    assert rows == [(2, ["1", "2"]), (3, ["3", "4"])]
    assert table.row_problems == {}


def test_a_shifted_first_row_does_not_set_the_usual_width(tmp_path):
    """The first row's spill-over cell is empty (its last value moved into the last column):
    taken as the usual width, it let itself and the later shifted rows through."""
    path = tmp_path / "first.csv"
    path.write_text("a,b,c\n1,2,3,\n4,5,6\n7,8,9,\n", encoding="utf-8")

    table, rows = read(path)

    assert [number for number, _ in rows] == [2, 3, 4]
    shifted = ("row-columns-shifted", {"cells": 4, "width": 3, "extra": 1})
    assert table.row_problems == {2: [shifted], 4: [shifted]}


def test_a_trailing_delimiter_on_nearly_every_line_is_no_shift_but_one_more_is(tmp_path):
    lines = ["a,b"] + [f"{n},{n}," for n in range(40)] + ["x,y"] + ["s,t,,"]
    path = tmp_path / "trailing.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    table, rows = read(path)

    assert len(rows) == 42
    assert table.row_problems == {
        43: [("row-columns-shifted", {"cells": 4, "width": 2, "extra": 2})]
    }


def test_an_empty_last_header_cell_does_not_widen_the_header(tmp_path):
    """A header line ending with a comma, the rows not: a row as wide as the padded header
    has a value where no column is named, one column right of where it belongs."""
    path = tmp_path / "header_comma.csv"
    path.write_text("a,b,c,\n1,2,3\n4,5,6,7\n", encoding="utf-8")

    table, rows = read(path)

    assert table.headers == ["a", "b", "c", ""]
    assert rows == [(2, ["1", "2", "3", ""]), (3, ["4", "5", "6", "7"])]
    assert table.row_problems == {
        3: [("row-columns-shifted", {"cells": 4, "width": 3, "extra": 1})]
    }


def test_a_trailing_delimiter_on_every_line_and_the_header_is_no_shift(tmp_path):
    path = tmp_path / "all_comma.csv"
    path.write_text("a,b,\n1,2,\n3,4,\n", encoding="utf-8")

    table, rows = read(path)

    assert rows == [(2, ["1", "2", ""]), (3, ["3", "4", ""])]
    assert table.row_problems == {}


def test_cells_beyond_a_web_pages_header_are_cut_off_with_one_notice(tmp_path):
    path = tmp_path / "wide.xls"
    path.write_text(
        "<html><table><tr><td>a</td><td>b</td></tr><tr><td>1</td><td>2</td></tr>"
        "<tr><td>3</td><td>4</td><td>lost</td></tr><tr><td>5</td><td>6</td></tr>"
        "<tr><td>7</td><td>8</td><td>also lost</td></tr></table></html>",
        encoding="utf-8",
    )

    table, rows = read(path)

    assert rows == [(2, ["1", "2"]), (3, ["3", "4"]), (4, ["5", "6"]), (5, ["7", "8"])]
    assert table.notices[-1] == Notice("extra-cells-ignored", 3, {"rows": 2})
    assert table.row_problems == {}
    assert "row 3" in table.notices[-1].message("en")


def test_header_only_file_has_headers_and_no_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("周期ID,姓名\n", encoding="utf-8")

    table, rows = read(path)

    assert (table.headers, table.header_row, rows) == (["周期ID", "姓名"], 1, [])


def test_unclosed_quote_is_an_error_naming_its_row(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text('a,b\n1,2\n3,"never closed\n' + "x,y\n" * 50_000, encoding="utf-8")

    error = input_error(path)

    assert (error.code, error.params["row"]) == ("input-bad-csv", 3)


def test_report_layout_in_csv(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(
        "某某医院 移植信息导出,,\n导出时间：2024-06-30,,\n,,\n"
        "周期ID,移植时间,移植ID\nCYC1,2024-01-01,T1\nCYC2,2024-01-02,T2\n合计：,共 2 条,\n",
        encoding="gb18030",
    )

    table, rows = read(path, is_known_header=known_transplant_header)

    assert (table.header_row, table.headers) == (4, ["周期ID", "移植时间", "移植ID"])
    assert [number for number, _ in rows] == [5, 6]
    assert codes(table.notices) == ["rows-above-header-skipped", "footer-row-skipped"]
    assert table.notices[1].row == 7


# --- Report-style layouts and footers ------------------------------------------------------


@pytest.mark.parametrize("first_cell", ["合计", "合计：", "总计: 20", "小计 ", "共计20条"])
def test_footer_rows_are_skipped_with_a_notice(tmp_path, first_cell):
    path = write_xlsx(tmp_path / "f.xlsx", [["周期ID", "移植ID"], ["CYC1", "T1"], [first_cell]])

    table, rows = read(path)

    assert rows == [(2, ["CYC1", "T1"])]
    assert table.notices == [Notice("footer-row-skipped", 3, {"text": first_cell})]


def test_footer_found_after_leading_blank_cells_and_lookalikes_kept(tmp_path):
    path = write_xlsx(
        tmp_path / "f.xlsx",
        [
            ["医院", "周期ID"],
            ["合作医院", "CYC1"],
            [None, "小计"],
            ["小王", "CYC2"],
            [None, "总计"],
        ],
    )

    table, rows = read(path)

    assert [number for number, _ in rows] == [2, 4]
    assert [notice.row for notice in table.notices] == [3, 5]


# What a report-style export puts below its data, as a user's trial file had it: subtotals
# between groups, a total written with spaces and a colon, then who made and checked the
# report and a remark. The 备注 column's words must not matter: only the first cell decides.
REPORT_BELOW_THE_DATA = [
    ["周期ID", "移植ID", "备注"],
    ["CYC001", "T1", "合计：这一行是数据"],
    ["CYC002", "T2", ""],
    ["5月小计", "", "2"],
    ["CYC003", "T3", "制表人：李四"],
    ["", "合 计：", "3"],
    [],
    ["制表人：李四", "", "审核：王五"],
    ["备注：CYX002 周期已取消"],
]


def write_report(path: Path, rows: list[list[str]]) -> Path:
    """*rows* in the format *path*'s extension names, a blank cell left empty."""
    if path.suffix == ".csv":
        path.write_text("".join(",".join(row) + "\n" for row in rows), encoding="gb18030")
    elif path.suffix == ".xlsx":
        write_xlsx(path, [[cell or None for cell in row] for row in rows])
    elif path.suffix == ".html":
        trs = ("".join(f"<td>{cell}</td>" for cell in row) for row in rows)
        page = "<table>" + "".join(f"<tr>{tr}</tr>\n" for tr in trs) + "</table>"
        path.write_text(page, encoding="utf-8")
    else:
        cells = (
            "".join(f'<Cell><Data ss:Type="String">{cell}</Data></Cell>' for cell in row)
            for row in rows
        )
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"'
            ' xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">'
            '<Worksheet ss:Name="Sheet1"><Table>'
            + "".join(f"<Row>{row}</Row>\n" for row in cells)
            + "</Table></Worksheet></Workbook>",
            encoding="utf-8",
        )
    return path


@pytest.mark.parametrize("name", ["report.csv", "report.xlsx", "report.html", "report.xml"])
def test_subtotals_are_skipped_alone_and_rows_below_the_total_as_footnotes(tmp_path, name):
    path = write_report(tmp_path / name, REPORT_BELOW_THE_DATA)

    table, rows = read(path)

    assert rows == [
        (2, ["CYC001", "T1", "合计：这一行是数据"]),
        (3, ["CYC002", "T2", ""]),
        (5, ["CYC003", "T3", "制表人：李四"]),
    ]
    assert table.notices == [
        Notice("footer-row-skipped", 4, {"text": "5月小计"}),
        Notice("footer-row-skipped", 6, {"text": "合 计："}),
        Notice("rows-below-totals-skipped", 8, {"count": 2}),
    ]
    assert "第 8 行起的 2 行" in table.notices[2].message("zh")
    assert "2 row(s) below the totals, from row 8 on" in table.notices[2].message("en")


RECORD_BELOW_THE_TOTAL = [
    ["周期ID", "档案信息ID", "方案", "周期开始时间", "周期次数", "机构ID"],
    ["C1", "INF1", "IVF", "2023-05-01", "1", "ZJ3301001"],
    ["合  计：", "", "", "", "1", ""],
    ["制表人：张三", "", "", "审核：李四", "", ""],
    ["制表人", "审核", "打印时间"],
    ["张三", "李四", "2023-06-01 08:00"],
    ["制表单位", "某医院生殖中心", "联系电话", "0571-88888888"],  # labels in cells of their own
    ["C9", "INF9", "IVF", "2023-05-09", "1", "ZJ3301001"],
]


@pytest.mark.parametrize("name", ["report.csv", "report.xlsx", "report.html", "report.xml"])
def test_a_record_below_the_total_is_handed_on_refused_not_skipped(tmp_path, name):
    """A record added below yesterday's total was skipped with a notice at most, and exit 0:
    it never reached the platform, nor the failure report."""
    path = write_report(tmp_path / name, RECORD_BELOW_THE_TOTAL)

    table, rows = read(path)

    assert [number for number, _ in rows] == [2, 8]
    assert table.row_problems == {8: [("row-below-totals", {"total_row": 3})]}
    # (A web page shows 合  计 with one space.)
    assert [(n.code, n.row) for n in table.notices] == [
        ("footer-row-skipped", 3),
        ("rows-below-totals-skipped", 4),
    ]
    assert table.notices[1].params == {"count": 4}


@pytest.mark.parametrize(
    ("first_cell", "grand_total"),
    [
        ("合  计：", True),
        ("合\u3000计", True),
        (" 总 计: 20", True),
        ("共计：3", True),
        ("共 3 条记录", True),
        ("共3行", True),
        ("共 12 例", True),
        ("共 1,024 人", True),
        ("小 计：", False),
        ("5月小计", False),
        ("2024年5月 小计：12", False),
        ("本页合计", False),  # a page's total: more pages may follow
    ],
)
def test_footer_forms(tmp_path, first_cell, grand_total):
    path = tmp_path / "f.csv"
    path.write_text(f'周期ID,移植ID\nCYC1,T1\n"{first_cell}",\nCYC2,T2\n', encoding="utf-8")

    table, rows = read(path)

    assert table.notices[0] == Notice("footer-row-skipped", 3, {"text": first_cell})
    if grand_total:
        assert rows == [(2, ["CYC1", "T1"])]
        assert table.notices[1:] == [Notice("rows-below-totals-skipped", 4, {"count": 1})]
    else:
        assert rows == [(2, ["CYC1", "T1"]), (4, ["CYC2", "T2"])]
        assert table.notices[1:] == []


def test_only_a_footers_words_make_a_footer(tmp_path):
    # The quick check lets these through to the full one, which must call them data.
    lookalikes = ["统计室", "共享", "共 3 次移植", "计划", "备注：本月小计有误"]
    path = tmp_path / "f.csv"
    path.write_text(
        "周期ID,移植ID\n" + "".join(f"{cell},T\n" for cell in lookalikes) + "5月小计,\nCYC2,T2\n",
        encoding="utf-8",
    )

    table, rows = read(path)

    assert rows == [(n, [cell, "T"]) for n, cell in enumerate(lookalikes, 2)] + [
        (8, ["CYC2", "T2"])
    ]
    assert table.notices == [Notice("footer-row-skipped", 7, {"text": "5月小计"})]


def test_a_record_count_below_an_xlsx_with_merged_cells_ends_the_data(tmp_path):
    # The merged cells' notice comes once the whole sheet is read, footnotes included.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [
        ["档案信息ID", "周期ID"],
        ["INF1", "C1"],
        [None, "C2"],
        [None, "共 2 条记录"],
        ["打印时间：2024-06-30 10:00", None],
        [None, None],
        ["制表人：李四", "审核：王五"],
    ]:
        sheet.append(row)
    sheet.merge_cells("A2:A3")
    workbook.save(tmp_path / "merged.xlsx")

    table, rows = read(tmp_path / "merged.xlsx")

    assert rows == [(2, ["INF1", "C1"]), (3, ["INF1", "C2"])]
    assert table.notices == [
        Notice("footer-row-skipped", 4, {"text": "共 2 条记录"}),
        Notice("merged-cells-filled", 3, {"count": 1}),
        Notice("rows-below-totals-skipped", 5, {"count": 2}),
    ]


def test_header_needs_known_headers_in_at_least_half_its_cells(tmp_path):
    path = write_xlsx(
        tmp_path / "f.xlsx",
        [
            ["周期ID", "说明", "备注", "其他"],  # two known of four: qualifies
            ["CYC1", "a", "b", "c"],
        ],
    )
    title_first = write_xlsx(
        tmp_path / "g.xlsx",
        [["周期ID 说明"], ["周期ID", "说明", "备注", "其他", "更多"], ["CYC1"]],
    )

    table, _ = read(path, is_known_header=known_transplant_header)
    fallback, rows = read(title_first, is_known_header=known_transplant_header)

    assert table.header_row == 1
    # Two of five is less than half: no row qualifies, so the first non-blank row is the
    # header and the row below it comes back as data.
    assert fallback.header_row == 1
    assert [number for number, _ in rows] == [2, 3]
    assert fallback.notices == []


def test_header_is_found_among_more_of_the_hospitals_own_columns(tmp_path):
    # A HIS report: a title, then the platform's columns among more of the hospital's own.
    own = ["序号", "女方姓名", "女方年龄", "男方姓名", "联系电话", "病区", "床号", "审核状态"]
    header = [*own[:4], "周期ID", "移植ID", "移植时间", *own[4:]]
    values = ["1", "王某", "32", "李某", "138", "一病区", "12", "已审"]
    data = [*values[:4], "CYC1", "T1", "2024-01-01", *values[4:]]
    path = write_xlsx(tmp_path / "wide.xlsx", [["移植手术登记表（2024年6月）"], header, data])

    table, rows = read(path, is_known_header=known_transplant_header)

    assert (table.header_row, table.headers) == (2, header)
    assert rows == [(3, data)]
    assert table.notices == [
        Notice("rows-above-header-skipped", None, {"count": 1, "header_row": 2})
    ]


def test_header_search_stops_after_thirty_non_blank_rows(tmp_path):
    filler = [[f"说明 {n}"] for n in range(30)]
    path = write_xlsx(tmp_path / "f.xlsx", [*filler, ["周期ID", "移植ID"], ["CYC1", "T1"]])

    table, rows = read(path, is_known_header=known_transplant_header)

    assert table.header_row == 1
    assert rows[-2:] == [(31, ["周期ID", "移植ID"]), (32, ["CYC1", "T1"])]


def test_without_known_headers_the_first_non_blank_row_is_the_header():
    table, _ = read(sample("transplant_report_layout.xlsx"))

    assert table.header_row == 1
    assert table.headers[0] == "某某医院生殖中心 移植信息导出"


# --- Files written by a real spreadsheet program -------------------------------------------


def sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip("shared/samples-real is not beside the repository")
    return path


@pytest.mark.parametrize(
    ("name", "format", "header", "date_value"),
    [
        ("eresult.xls", "xls", "操作时间", datetime.datetime(2023, 5, 28, 19, 26, 58)),
        ("childbirth.xls", "xls", "分娩时间", datetime.datetime(2024, 5, 17, 20, 25, 56)),
        ("childbirth.ods", "ods", "分娩时间", datetime.datetime(2024, 5, 17, 20, 25, 56)),
        ("ovum.xls", "xls", "操作时间", datetime.datetime(2024, 2, 15, 22, 52, 8)),
        ("ovum.xlsx", "xlsx", "操作时间", datetime.datetime(2024, 2, 15, 22, 52, 8)),
        ("ovum_gb18030.csv", "csv", "操作时间", "2024-02-15 22:52:08"),
        ("eresult_source_utf8.csv", "csv", "操作时间", "2023-05-28 19:26:58"),
    ],
)
def test_real_samples(name, format, header, date_value):
    table, rows = read(sample(name))

    assert table.format == format
    assert table.header_row == 1
    assert "周期ID" in table.headers
    assert len(rows) == 25
    assert [number for number, _ in rows] == list(range(2, 27))
    assert all(len(cells) == len(table.headers) for _, cells in rows)
    assert rows[0][1][table.headers.index("周期ID")] == "CYC00000001"
    assert rows[0][1][table.headers.index(header)] == date_value
    assert table.notices == []


def test_real_csv_encodings():
    gb, _ = read(sample("ovum_gb18030.csv"))
    utf8, _ = read(sample("eresult_source_utf8.csv"))

    assert (gb.encoding, utf8.encoding) == ("gb18030", "utf-8")


def test_rich_text_header_comes_out_as_one_string():
    table, _ = read(sample("ovum.xlsx"))

    assert table.headers[2] == "周期ID"


def test_real_report_layout():
    table, rows = read(
        sample("transplant_report_layout.xlsx"), is_known_header=known_transplant_header
    )

    assert (table.sheet, table.header_row) == ("数据", 4)
    assert table.headers[:3] == ["移植囊胚数", "核对人员代码", "周期ID"]
    assert len(rows) == 20
    number, cells = rows[0]
    assert number == 5
    assert cells[table.headers.index("周期ID")] == "CYC00000001"
    assert cells[table.headers.index("操作时间")] == datetime.datetime(2024, 1, 30, 14, 36, 56)
    assert rows[-1][0] == 24
    assert table.notices == [
        Notice("rows-above-header-skipped", None, {"count": 2, "header_row": 4}),
        Notice("footer-row-skipped", 25, {"text": "合计"}),
    ]
    for notice in table.notices:
        assert "{" not in notice.message("zh") and "{" not in notice.message("en")


# --- Workbooks we write ourselves ----------------------------------------------------------


def test_xlsx_cell_types(tmp_path):
    when = datetime.datetime(2024, 3, 1, 8, 30)
    day = datetime.date(2024, 3, 2)
    header = ["周期ID", "移植时间", "日期", "编码", "胚胎数", "评分", "是否"]
    values = ["CYC1", when, day, "000123", 2, 1.5, True]
    path = write_xlsx(tmp_path / "types.xlsx", [header, values])

    table, rows = read(path)

    assert (table.format, table.sheet, table.encoding) == ("xlsx", "Sheet1", None)
    assert rows == [(2, values)]


def test_xlsx_header_only(tmp_path):
    path = write_xlsx(tmp_path / "header.xlsx", [["周期ID", "移植ID"]])

    table, rows = read(path)

    assert (table.headers, rows) == (["周期ID", "移植ID"], [])


def test_xlsx_row_numbers_count_blank_rows_above_the_data(tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B3"], sheet["C3"] = "周期ID", "移植ID"
    sheet["B5"], sheet["C5"] = "CYC1", "T1"
    workbook.save(tmp_path / "offset.xlsx")

    table, rows = read(tmp_path / "offset.xlsx")

    assert (table.header_row, table.headers) == (3, ["周期ID", "移植ID"])
    assert rows == [(5, ["CYC1", "T1"])]


def test_a_cell_merged_over_several_rows_gives_each_row_its_value(tmp_path):
    # A report-style export merges one patient's file ID over her cycles' rows, and a title
    # across the columns; the data starts in column B, to check the columns' offset.
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B1"] = "周期报表"
    sheet.merge_cells("B1:D1")
    sheet["B2"], sheet["C2"], sheet["D2"] = "档案信息ID", "周期ID", "备注"
    for row, (file_id, cycle) in enumerate(
        [("INF1", "C1"), (None, "C2"), (None, "C3"), ("INF2", "C4")], 3
    ):
        sheet.cell(row, 2, file_id)
        sheet.cell(row, 3, cycle)
    sheet.merge_cells("B3:B5")
    sheet["C7"] = "one note over two columns"
    sheet.merge_cells("C7:D7")
    workbook.save(tmp_path / "merged.xlsx")

    known = {"档案信息ID", "周期ID", "备注"}
    table, rows = read(tmp_path / "merged.xlsx", is_known_header=known.__contains__)

    assert table.header_row == 2
    assert rows == [
        (3, ["INF1", "C1", ""]),
        (4, ["INF1", "C2", ""]),
        (5, ["INF1", "C3", ""]),
        (6, ["INF2", "C4", ""]),
        (7, ["", "one note over two columns", ""]),  # a merge within a row is not spread
    ]
    notices = [(n.code, n.row, n.params) for n in table.notices]
    assert ("merged-cells-filled", 4, {"count": 1}) in notices


def test_non_text_header_cells_become_text(tmp_path):
    rows = [[" 周期ID ", 2024, 3.0, None, "x"], ["CYC1", 1, 2, 3, 4]]
    path = write_xlsx(tmp_path / "h.xlsx", rows)

    table, _ = read(path)

    assert table.headers == ["周期ID", "2024", "3", "", "x"]


def test_sheet_by_name_and_first_visible_sheet_by_default(tmp_path):
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    hidden.title = "字典"
    hidden.append(["代码", "名称"])
    hidden.sheet_state = "hidden"
    data = workbook.create_sheet("数据")
    data.append(["周期ID"])
    data.append(["CYC1"])
    workbook.save(tmp_path / "two.xlsx")

    default, rows = read(tmp_path / "two.xlsx")
    chosen, _ = read(tmp_path / "two.xlsx", sheet="字典")

    assert (default.sheet, rows) == ("数据", [(2, ["CYC1"])])
    assert (chosen.sheet, chosen.headers) == ("字典", ["代码", "名称"])


def test_data_after_a_sheet_of_notes_is_found_by_its_header(tmp_path):
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "说明"
    notes.append(["本文件由 HIS 导出，请勿修改"])
    data = workbook.create_sheet("移植数据")
    data.append(["移植ID", "周期ID", "移植时间"])
    data.append(["TRA1", "CYC1", "2024-03-01"])
    workbook.save(tmp_path / "export.xlsx")

    found, rows = read(tmp_path / "export.xlsx", is_known_header=known_transplant_header)
    asked, _ = read(tmp_path / "export.xlsx", sheet="说明", is_known_header=known_transplant_header)
    plain, _ = read(tmp_path / "export.xlsx")  # no header to recognise: the first sheet

    assert (found.sheet, rows) == ("移植数据", [(2, ["TRA1", "CYC1", "2024-03-01"])])
    assert found.notices == [
        Notice("sheet-chosen-by-header", None, {"sheet": "移植数据", "first": "说明"})
    ]
    assert (asked.sheet, plain.sheet) == ("说明", "说明")


OVUM = load_schema().get("ovum")
CYCLE_SHEET = [
    ["周期ID", "档案信息ID", "机构ID", "操作人员代码", "操作人员姓名", "操作时间"],
    ["CYC1", "INF1", "ZJ3301001", "YS1", "张三", "2023-05-01 08:00:00"],
]
OVUM_SHEET = [
    [
        "取卵信息ID",
        "周期ID",
        "机构ID",
        "手术者代码",
        "手术者姓名",
        "取卵时间",
        "卵子来源",
        "取卵数",
        "穿刺卵泡数",
    ],
    ["OVU1", "CYC1", "ZJ3301001", "YS1", "张医生", "2023-05-06 09:30:00", "1", "12", "15"],
]


def ovum_columns() -> dict[str, Any]:
    """What validate asks of a header when it reads an ovum export."""
    needed = [f.name for f in OVUM.required_fields]

    def missing_columns(headers: list[str]) -> tuple[bool, int]:
        named = {found.name for h in headers if (found := OVUM.match_header(h))}
        return OVUM.primary_key not in named, sum(1 for name in needed if name not in named)

    return {
        "is_known_header": lambda text: OVUM.match_header(text) is not None,
        "missing_columns": missing_columns,
    }


def write_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_a_sheet_per_record_type_is_read_from_the_sheet_that_fits_the_type(tmp_path):
    # A HIS "export all": the first sheet (周期) shares 周期ID and 机构ID with ovum.
    path = write_workbook(
        tmp_path / "all.xlsx", {"周期": CYCLE_SHEET, "取卵": OVUM_SHEET, "移植": [["移植ID"]]}
    )

    table, rows = read(path, **ovum_columns())
    asked, _ = read(path, sheet="周期", **ovum_columns())

    assert (table.sheet, table.headers, rows) == ("取卵", OVUM_SHEET[0], [(2, OVUM_SHEET[1])])
    assert table.notices == [
        Notice("sheet-chosen-by-header", None, {"sheet": "取卵", "first": "周期"})
    ]
    assert (asked.sheet, asked.notices) == ("周期", [])


def test_a_first_sheet_that_fits_is_read_without_parsing_the_others(tmp_path, monkeypatch):
    from artreport.readers import spreadsheet

    parsed: list[str] = []
    header_of = spreadsheet._sheet_header

    def spy(workbook: Any, name: str, is_known_header: Any) -> Any:
        parsed.append(name)
        return header_of(workbook, name, is_known_header)

    monkeypatch.setattr(spreadsheet, "_sheet_header", spy)
    path = write_workbook(tmp_path / "all.xlsx", {"取卵": OVUM_SHEET, "周期": CYCLE_SHEET})

    table, rows = read(path, **ovum_columns())

    assert (table.sheet, parsed, len(rows)) == ("取卵", ["取卵"], 1)
    # The clerk sees two tabs: the notice says which was read.
    assert table.notices == [Notice("sheet-read", None, {"sheet": "取卵", "count": 2})]
    assert "'取卵'" in table.notices[0].message("en")


def test_no_sheet_fitting_better_keeps_the_first(tmp_path):
    path = write_workbook(tmp_path / "two.xlsx", {"周期": CYCLE_SHEET, "说明": [["导出说明"]]})

    table, rows = read(path, **ovum_columns())

    assert (table.sheet, rows) == ("周期", [(2, CYCLE_SHEET[1])])
    assert codes(table.notices) == ["sheet-read"]


def test_missing_sheet_lists_the_sheets(tmp_path):
    path = write_xlsx(tmp_path / "one.xlsx", [["周期ID"]], title="数据")

    error = input_error(path, sheet="Sheet1")

    assert error.code == "input-sheet-not-found"
    assert error.params == {"sheet": "Sheet1", "sheets": "数据"}


def test_empty_sheet_is_an_empty_input(tmp_path):
    path = write_xlsx(tmp_path / "blank.xlsx", [])

    assert input_error(path).code == "input-empty"


# --- Content that does not match the extension ---------------------------------------------


def test_xlsx_named_xls_is_read_as_xlsx(tmp_path):
    path = tmp_path / "renamed.xls"
    write_xlsx(tmp_path / "real.xlsx", [["周期ID"], ["CYC1"]])
    shutil.copy(tmp_path / "real.xlsx", path)

    table, rows = read(path)

    assert (table.format, rows) == ("xlsx", [(2, ["CYC1"])])
    assert table.notices == [
        Notice("content-format-differs", None, {"ext": ".xls", "actual": "xlsx"})
    ]


def test_a_tsv_file_is_read_as_tab_separated_text(tmp_path):
    path = tmp_path / "information.tsv"
    path.write_text("周期ID\t姓名\nCYC1\t张三\n", encoding="utf-8")

    table, rows = read(path)

    assert (table.format, table.headers, rows) == (
        "csv",
        ["周期ID", "姓名"],
        [(2, ["CYC1", "张三"])],
    )


def test_text_named_xls_is_read_as_csv(tmp_path):
    path = tmp_path / "export.xls"
    path.write_bytes("周期ID\t姓名\r\nCYC1\t张三\r\n".encode("gb18030"))

    table, rows = read(path)

    assert (table.format, table.encoding, table.headers) == ("csv", "gb18030", ["周期ID", "姓名"])
    assert rows == [(2, ["CYC1", "张三"])]
    assert codes(table.notices) == ["content-format-differs"]


# What a hospital system's "export to Excel" often writes: a GBK web page named .xls.
HIS_PAGE = """<html xmlns:o="urn:schemas-microsoft-com:office:office">
<head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<style>td { mso-number-format:"\\@"; } .title { font-size: 16pt }</style></head>
<body>
<table border="1">
<tr><td colspan="4" class="title">移植信息导出</td></tr>
<tr><th>周期ID</th><th>移植ID</th><th>移植日期</th><th>备注</th></tr>
<tr><td rowspan="2">CYC001</td><td>TRA0001</td><td>2023-05-06</td><td>&nbsp;</td></tr>
<tr><td>TRA0002</td><td>2023/5/8</td><td>第一行<br>第二行</td></tr>
<tr><td>CYC002</td><td colspan="2">  TRA&amp;3
   </td><td>x</td></tr>
<tr><td>&nbsp;</td><td></td><td></td><td></td></tr>
<tr><td>合计</td><td>3</td><td></td><td></td></tr>
</table>
</body></html>
"""


def test_a_web_page_named_xls_is_read_as_excel_shows_it(tmp_path):
    path = tmp_path / "export.xls"
    path.write_bytes(HIS_PAGE.encode("gbk"))

    table, rows = read(path, is_known_header=known_transplant_header)

    assert (table.format, table.encoding, table.header_row) == ("html", "gb18030", 2)
    assert table.headers == ["周期ID", "移植ID", "移植日期", "备注"]
    assert rows == [
        (3, ["CYC001", "TRA0001", "2023-05-06", ""]),
        (4, ["CYC001", "TRA0002", "2023/5/8", "第一行\n第二行"]),
        (5, ["CYC002", "TRA&3", "", "x"]),
    ]
    assert codes(table.notices) == [
        "content-format-differs",
        "rows-above-header-skipped",
        "footer-row-skipped",
        "merged-cells-filled",
    ]
    filled = next(n for n in table.notices if n.code == "merged-cells-filled")
    assert (filled.row, filled.params) == (4, {"count": 1})


def test_cells_spanning_rows_keep_every_column_below_them_in_place(tmp_path):
    page = (
        # A title table whose logo claims more rows than the table has: it ends with it.
        "<table><tr><td rowspan=3>医院</td><td>报表</td></tr><tr><td>导出时间</td></tr></table>"
        "<table><tr><th>A</th><th>B</th><th>C</th><th>D</th><th>E</th></tr>"
        "<tr><td>1</td><td rowspan=2>&nbsp;</td><td>x1</td><td rowspan=2 colspan=2>共</td></tr>"
        "<tr><td>2</td><td>x2</td></tr>"
        "<tr><td>3</td><td>b3</td><td>x3</td><td>d3</td><td>e3</td></tr></table>"
    )
    path = tmp_path / "spans.html"
    path.write_text(page, encoding="utf-8")

    table, rows = read(path, is_known_header=lambda text: text in "ABCDE")

    assert table.headers == ["A", "B", "C", "D", "E"]
    assert rows == [
        (4, ["1", "", "x1", "共", ""]),
        (5, ["2", "", "x2", "共", ""]),
        (6, ["3", "b3", "x3", "d3", "e3"]),
    ]


def test_a_web_page_cut_short_inside_its_table_is_an_input_error(tmp_path):
    path = tmp_path / "cut.xls"
    path.write_text(
        "<html><table><tr><td>周期ID</td><td>姓名</td></tr>"
        "<tr><td>C1</td><td>张医生甲</td></tr><tr><td>C2</td><td>张医",
        encoding="utf-8",
    )

    error = input_error(path)

    assert (error.code, error.params["row"]) == ("input-html-cut-off", 3)


def test_a_web_page_without_a_table_says_so(tmp_path):
    path = tmp_path / "notable.html"
    path.write_text("<html><body><h2>没有数据</h2><p>导出时间 2024-01-01</p></body></html>")

    assert input_error(path).code == "input-html-no-table"


def test_a_utf16_web_page_named_xls_is_read_as_a_page(tmp_path):
    path = tmp_path / "u16.xls"
    page = "<html><table><tr><td>周期ID</td><td>姓名</td></tr><tr><td>C1</td><td>张三</td></tr>"
    path.write_bytes((page + "</table></html>").encode("utf-16"))

    table, rows = read(path)

    assert (table.format, rows) == ("html", [(2, ["C1", "张三"])])


def test_a_web_page_is_decoded_by_its_bom_else_its_bytes_when_it_declares_nothing(tmp_path):
    page = "<table><tr><td>周期ID</td><td>姓名</td></tr><tr><td>007</td><td>张三</td></tr></table>"
    for name, data in [
        ("utf8.xls", page.encode("utf-8")),
        ("bom.html", b"\xef\xbb\xbf" + page.encode("utf-8")),
        ("gb.htm", page.encode("gb18030")),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        table, rows = read(path)
        assert (table.headers, rows) == (["周期ID", "姓名"], [(2, ["007", "张三"])]), name


def test_a_web_page_that_changes_encoding_names_the_row(tmp_path):
    rows = "".join(f"<tr><td>C{n}</td><td>王</td></tr>\n" for n in range(5000))
    data = ("<table><tr><td>周期ID</td><td>姓名</td></tr>\n" + rows).encode("utf-8")
    path = tmp_path / "mixed.xls"
    path.write_bytes(data + "<tr><td>C9</td><td>王</td></tr></table>".encode("gb18030"))

    error = input_error(path)

    assert error.code == "input-encoding"
    assert error.params["row"] == 5002  # the header, 5,000 rows, then the bad one


def test_a_web_page_reads_the_same_wherever_its_blocks_are_cut(tmp_path):
    """Thousands of rows of everything a page may hold in and around its cells, so that the
    reader's 64 kB blocks end inside tags, entities, comments and scripts."""
    expected, markup = [], []
    for n in range(3000):
        expected.append((n + 2, [f"C{n:05d}", f"A&B <{n}>", f"第{n}行\n下一行", ""]))
        markup.append(
            f'<TR class="r{n % 7}"><td title="a>b">C{n:05d}</TD>'
            f"<td>A&amp;B &lt;{n}&gt;</td>"
            f"<!-- <td>not a cell {n}</td> -->"
            f"<td><span>第{n}行</span><br/>  下一行</td><td>&nbsp;"
            + ("<script>var s = '<td>x</td>';</script>" if n % 50 == 0 else "")
        )
    page = "<html><head><style>td { color: red }</style></head><body><table>"
    page += "<tr><th>周期ID</th><th>名称</th><th>备注</th><th>空</th></tr>\n"
    page += "\n".join(markup) + "</table></body></html>"
    path = tmp_path / "export.html"
    path.write_text(page, encoding="utf-8")

    table, rows = read(path)

    assert (table.format, table.headers) == ("html", ["周期ID", "名称", "备注", "空"])
    assert rows == expected
    assert table.notices == []


SPREADSHEET_2003 = """<?xml version="1.0" encoding="UTF-8"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Worksheet ss:Name="说明"><Table><Row><Cell><Data ss:Type="String">导出说明</Data></Cell></Row>
 </Table></Worksheet>
 <Worksheet ss:Name="移植">
  <Table>
   <Row><Cell ss:MergeAcross="2"><Data ss:Type="String">移植信息</Data></Cell></Row>
   <Row><Cell><Data ss:Type="String">周期ID</Data></Cell>
    <Cell><Data ss:Type="String">移植ID</Data></Cell>
    <Cell><Data ss:Type="String">移植日期</Data></Cell>
    <Cell><Data ss:Type="String">备注</Data></Cell></Row>
   <Row><Cell ss:MergeDown="1"><Data ss:Type="String">CYC001</Data></Cell>
    <Cell><Data ss:Type="Number">007</Data></Cell>
    <Cell><Data ss:Type="DateTime">2023-05-06T08:30:00.000</Data></Cell></Row>
   <Row><Cell ss:Index="2"><Data ss:Type="String">TRA2</Data></Cell>
    <Cell ss:Index="4"><ss:Data ss:Type="String"><B>加</B>粗</ss:Data></Cell></Row>
   <Row ss:Index="6"><Cell><Data ss:Type="String">CYC003</Data></Cell></Row>
   <Row><Cell><Data ss:Type="String">合计</Data></Cell></Row>
  </Table>
 </Worksheet>
</Workbook>
"""


@pytest.mark.parametrize("name", ["export.xls", "export.xml"])
def test_an_excel_2003_xml_workbook_is_read_as_excel_shows_it(tmp_path, name):
    path = tmp_path / name
    path.write_text(SPREADSHEET_2003, encoding="utf-8")

    table, rows = read(path, sheet="移植", is_known_header=known_transplant_header)

    assert (table.format, table.sheet, table.header_row) == ("xml", "移植", 2)
    assert table.headers == ["周期ID", "移植ID", "移植日期", "备注"]
    assert rows == [
        (3, ["CYC001", "007", "2023-05-06 08:30:00", ""]),
        (4, ["CYC001", "TRA2", "", "加粗"]),
        (6, ["CYC003", "", "", ""]),
    ]
    assert codes(table.notices) == (["content-format-differs"] if name.endswith("xls") else []) + [
        "rows-above-header-skipped",
        "footer-row-skipped",
        "merged-cells-filled",
    ]


def test_an_excel_2003_xml_workbook_opens_on_its_first_sheet_or_names_its_sheets(tmp_path):
    path = tmp_path / "export.xml"
    path.write_text(SPREADSHEET_2003, encoding="utf-8")

    table, rows = read(path)
    assert (table.sheet, rows) == ("说明", [])
    error = input_error(path, sheet="周期")
    assert (error.code, error.params["sheets"]) == ("input-sheet-not-found", "说明, 移植")


def test_an_excel_2003_xml_workbook_skips_hidden_sheets_and_notes(tmp_path):
    hidden = SPREADSHEET_2003.replace(
        "</Table></Worksheet>",
        '</Table><WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel">'
        "<Visible>SheetHidden</Visible></WorksheetOptions></Worksheet>",
        1,
    )
    path = tmp_path / "export.xml"
    for name, text in [("hidden", hidden), ("notes", SPREADSHEET_2003)]:
        path.write_text(text, encoding="utf-8")
        table, rows = read(path, is_known_header=known_transplant_header)
        assert (table.sheet, len(rows)) == ("移植", 3), name
    # A notes sheet first is passed over with a notice; a hidden one, as in an xlsx, silently.
    assert "sheet-chosen-by-header" in codes(table.notices)


def test_an_excel_2003_xml_workbook_is_read_from_the_sheet_that_fits_the_type(tmp_path):
    def worksheet(name: str, rows: list[list[Any]]) -> str:
        cells = (
            "<Row>"
            + "".join(f'<Cell><Data ss:Type="String">{v}</Data></Cell>' for v in row)
            + "</Row>"
            for row in rows
        )
        return f'<Worksheet ss:Name="{name}"><Table>{"".join(cells)}</Table></Worksheet>'

    def workbook(*sheets: str) -> str:
        head = SPREADSHEET_2003[: SPREADSHEET_2003.index("<Worksheet")]
        return head + "".join(sheets) + "</Workbook>"

    # A sheet of notes first, whose merged cell fills the row below it: that is not news
    # about the sheet read.
    notes = (
        '<Worksheet ss:Name="说明"><Table><Row><Cell ss:MergeDown="1">'
        '<Data ss:Type="String">导出说明</Data></Cell></Row><Row/></Table></Worksheet>'
    )
    cycle = worksheet("周期", CYCLE_SHEET)
    path = tmp_path / "all.xml"
    path.write_text(workbook(notes, cycle, worksheet("取卵", OVUM_SHEET)), encoding="utf-8")
    first_fits = tmp_path / "first.xml"
    first_fits.write_text(workbook(worksheet("取卵", OVUM_SHEET), cycle), encoding="utf-8")

    table, rows = read(path, **ovum_columns())
    first, _ = read(first_fits, **ovum_columns())

    assert (table.sheet, table.headers, rows) == ("取卵", OVUM_SHEET[0], [(2, OVUM_SHEET[1])])
    assert table.notices == [
        Notice("sheet-chosen-by-header", None, {"sheet": "取卵", "first": "说明"})
    ]
    assert (first.sheet, first.notices) == (
        "取卵",
        [Notice("sheet-read", None, {"sheet": "取卵", "count": 2})],
    )


def test_a_cut_off_excel_2003_xml_workbook_is_an_input_error(tmp_path):
    path = tmp_path / "export.xls"
    path.write_text(SPREADSHEET_2003[:900], encoding="utf-8")

    assert input_error(path, sheet="移植").code == "input-bad-xml"


def test_other_xml_named_xls_is_refused(tmp_path):
    path = tmp_path / "export.xls"
    path.write_text('<?xml version="1.0"?>\n<records><record><id>1</id></record></records>')

    assert input_error(path).code == "input-is-markup"


def test_random_bytes_named_xlsx(tmp_path):
    path = tmp_path / "junk.xlsx"
    path.write_bytes(random.Random(0).randbytes(4096))

    error = input_error(path)

    assert (error.code, error.params) == ("input-not-format", {"format": "xlsx"})


def test_password_protected_xlsx(tmp_path):
    # What Excel writes when a password is set: an OLE container whose directory names an
    # "EncryptedPackage" stream instead of holding a workbook.
    path = tmp_path / "locked.xlsx"
    directory_entry = "EncryptedPackage".encode("utf-16-le").ljust(128, b"\x00")
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".ljust(1024, b"\x00") + directory_entry)

    error = input_error(path)

    assert (error.code, error.params) == ("input-password-protected", {"format": "xlsx"})


def test_damaged_xlsx(tmp_path):
    path = tmp_path / "damaged.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)

    error = input_error(path)

    assert error.code == "input-corrupt"
    assert error.params["format"] == "xlsx"


def zipped(path: Path, *names: str) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return path


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A PDF whose text is all ASCII (no compressed stream): it used to be read as a CSV, its first
# line taken for the header.
TEXT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize(
    ("name", "content", "code", "kind"),
    [
        ("cycles.xlsx", TEXT_PDF, "input-is-document", "a PDF document"),
        ("cycles.xls", TEXT_PDF, "input-is-document", "a PDF document"),
        ("cycles.csv", TEXT_PDF, "input-is-document", "a PDF document"),
        ("cycles.csv", "{\\rtf1\\ansi 周期ID}".encode(), "input-is-document", "an RTF document"),
        ("cycles.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(64), "input-is-document", "an image"),
        ("cycles.xlsx", ["[Content_Types].xml", "word/document.xml"], "input-is-document",
         "a Word document"),
        ("cycles.xls", OLE.ljust(1024, b"\x00") + "WordDocument".encode("utf-16-le"),
         "input-is-document", "a Word document"),
        ("cycles.ods", ["mimetype", "content.xml"], "input-is-document", "an OpenDocument text"),
        ("cycles.xlsx", ["cycles.csv"], "input-is-archive", "zip"),
        ("cycles.xls", ["cycles.csv", "ovum.csv"], "input-is-archive", "zip"),
        ("cycles.csv", b"\x1f\x8b\x08\x00" + bytes(64), "input-is-archive", "gzip"),
    ],
)  # fmt: skip
def test_a_file_that_is_no_table_is_named_for_what_it_is(
    tmp_path: Path, name: str, content: bytes | list[str], code: str, kind: str
) -> None:
    path = tmp_path / name
    if isinstance(content, list):
        zipped(path, *content)
    else:
        path.write_bytes(content)

    error = input_error(path)

    assert error.code == code
    assert kind in error.message("en")
    assert error.params["format"] == name.rsplit(".", 1)[1]


@pytest.mark.parametrize("names", [["[Content_Types].xml", "custom/part.xml"], ["XL\\x.xml"]])
def test_an_office_zip_of_another_layout_is_left_to_the_workbook_reader(tmp_path, names):
    """Not called an archive: its parts may be spelled otherwise than Excel spells them."""
    error = input_error(zipped(tmp_path / "cycles.xlsx", *names))

    assert error.code == "input-corrupt"


def test_a_workbook_whose_zip_does_not_list_the_workbook_first_is_still_read(tmp_path):
    """Only a zip without any xl/ part is called an archive: the order of the parts varies
    with the writer."""
    path = tmp_path / "cycles.xlsx"
    shutil.copy(Path(__file__).resolve().parents[1] / "samples" / "cycles.xlsx", path)
    with open_table(path) as table:
        assert len(list(table.rows())) == 40


# --- JSON ----------------------------------------------------------------------------------


def test_json_array(tmp_path):
    records = [
        {"cycleid": "CYC1", "embryos": 2},
        {"cycleid": "CYC2", "note": None, "extra": {"nested": [1]}},
        {},
        {"embryos": 1.5, "ok": True},
    ]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2), encoding="utf-8")

    table, rows = read(path)

    assert (table.format, table.header_row) == ("json", 0)
    assert table.headers == ["cycleid", "embryos", "note", "extra", "ok"]
    assert rows == [
        (1, ["CYC1", 2, None, None, None]),
        (2, ["CYC2", None, None, {"nested": [1]}, None]),
        (4, [None, 1.5, None, None, True]),
    ]


@pytest.mark.parametrize(
    ("envelope", "member"),
    [
        # the shape most hospital APIs, and the platform itself, answer in
        ({"code": 0, "total": 2, "data": "RECORDS"}, "data"),
        # paged: the page's records one member down
        ({"code": 0, "data": {"total": 2, "list": "RECORDS"}}, "data.list"),
        # the only array of records, whatever its name; arrays of plain values are no records
        ({"ids": [1, 2], "cycles": "RECORDS"}, "cycles"),
        # of several, the one under an API's usual name
        ({"errors": [{"row": 9}], "rows": "RECORDS", "warnings": []}, "rows"),
    ],
)
def test_json_records_in_an_envelope_are_read_with_a_notice(tmp_path, envelope, member):
    records = [{"cycleid": "CYC1", "embryos": 2}, {"cycleid": "CYC2"}]
    text = json.dumps(envelope).replace('"RECORDS"', json.dumps(records))
    path = tmp_path / "data.json"
    path.write_text(text, encoding="utf-8")

    table, rows = read(path)

    assert table.headers == ["cycleid", "embryos"]
    assert rows == [(1, ["CYC1", 2]), (2, ["CYC2", None])]
    [notice] = table.notices
    assert (notice.code, notice.params) == (
        "json-records-in-member",
        {"member": member, "count": 2},
    )
    assert member in notice.message("zh") and member in notice.message("en")


def known_eresult_header(text: str) -> bool:
    return load_schema().get("eresult").match_header(text) is not None


@pytest.mark.parametrize("name", ["data.json", "data.jsonl"])
def test_a_records_object_of_fields_is_read_as_its_columns(tmp_path, name):
    records = [
        {"eresultid": "ER1", "counts": {"twopnnum": 5, "ovumnum": 0, "note": "x"}, "embryonum": 3},
        {"eresultid": "ER2", "counts": None},
        {"eresultid": "ER3", "counts": {"threepnnum": 1}},
    ]
    path = tmp_path / name
    if name.endswith(".jsonl"):
        path.write_text("\n".join(map(json.dumps, records)) + "\n", encoding="utf-8")
    else:
        path.write_text(json.dumps(records), encoding="utf-8")

    table, rows = read(path, is_known_header=known_eresult_header)

    # note names no field: it keeps its object's name, for the unknown-columns warning.
    assert table.headers == [
        "eresultid", "twopnnum", "ovumnum", "counts.note", "threepnnum", "embryonum"
    ]  # fmt: skip
    assert rows == [
        (1, ["ER1", 5, 0, "x", None, 3]),
        (2, ["ER2", None, None, None, None, None]),
        (3, ["ER3", None, None, None, 1, None]),
    ]
    [notice] = table.notices
    assert notice.code == "json-nested-read"
    assert notice.params == {
        "member": "counts",
        "columns": ("twopnnum", "ovumnum", "threepnnum"),
        "count": 3,
    }
    assert "twopnnum、ovumnum、threepnnum" in notice.message("zh")
    assert "twopnnum, ovumnum, threepnnum" in notice.message("en")


@pytest.mark.parametrize(
    ("record", "headers"),
    [
        # the name is a field at the top too: which value is meant cannot be told
        (
            {"eresultid": "E", "cycleid": "C1", "lab": {"cycleid": "C2", "twopnnum": 5}},
            ["eresultid", "cycleid", "lab.cycleid", "twopnnum"],
        ),
        # two objects naming one field
        (
            {"eresultid": "E", "ivf": {"ovumnum": 1}, "icsi": {"ovumnum": 2}},
            ["eresultid", "ivf.ovumnum", "icsi.ovumnum"],
        ),
        # an object naming no field stays one cell, as does one under a field's own name
        ({"eresultid": "E", "extra": {"a": 1}}, ["eresultid", "extra"]),
        ({"eresultid": "E", "embryonum": {"twopnnum": 1}}, ["eresultid", "embryonum"]),
        # an object in one record, a value in another: one column, for the checks to judge
        ([{"eresultid": "E", "counts": 5}, {"counts": {"twopnnum": 1}}], ["eresultid", "counts"]),
    ],
)
def test_an_object_of_fields_is_read_only_where_each_name_means_one_column(
    tmp_path, record, headers
):
    path = tmp_path / "data.json"
    path.write_text(json.dumps(record if isinstance(record, list) else [record]), encoding="utf-8")

    table, _ = read(path, is_known_header=known_eresult_header)

    assert table.headers == headers


def test_without_known_columns_an_object_stays_one_cell(tmp_path):
    path = tmp_path / "data.json"
    path.write_text(json.dumps([{"eresultid": "E", "counts": {"twopnnum": 5}}]), encoding="utf-8")

    table, rows = read(path)

    assert table.headers == ["eresultid", "counts"]
    assert rows == [(1, ["E", {"twopnnum": 5}])]


@pytest.mark.parametrize("name", ["data.jsonl", "data.json"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_json_lines(tmp_path, encoding, name):
    # Under a .json name too, as some systems write it.
    path = tmp_path / name
    path.write_text(
        '{"周期ID": "CYC1"}\n\n{"周期ID": "CYC2", "移植ID": "T2"}\n   \n{"移植ID": "T3"}\n',
        encoding=encoding,
    )

    table, rows = read(path)

    assert (table.format, table.encoding) == ("jsonl", encoding)
    assert table.headers == ["周期ID", "移植ID"]
    assert rows == [(1, ["CYC1", None]), (3, ["CYC2", "T2"]), (5, [None, "T3"])]


@pytest.mark.parametrize(
    ("name", "text", "code", "params"),
    [
        ("a.json", '[\n{"a": 1},\n{"a": 2,,}\n]', "input-bad-json", {"row": 3}),
        ("a.json", '[{"a": 1}, [1, 2]]', "input-json-not-object", {"row": 2}),
        ("a.json", '"text"', "input-json-not-array", {}),
        ("a.json", '{"data": []}', "input-empty", None),
        (
            "a.json",
            '{"code": 40003, "msg": "x", "data": null}',
            "input-json-no-records",
            {"members": ("code", "msg", "data")},
        ),
        (
            "a.json",
            '{"cycles": [{"a": 1}], "ovums": [{"a": 1}], "ids": [1]}',
            "input-json-records-ambiguous",
            {"members": ("cycles", "ovums")},
        ),
        (
            "a.json",
            '{"data": [{"a": 1}], "page": {"list": [{"a": 1}]}}',
            "input-json-records-ambiguous",
            {"members": ("data", "page.list")},
        ),
        ("a.json", '{"a": 1}\n{"a": \n', "input-bad-json", {"row": 2}),
        ("a.json", "[]", "input-empty", None),
        ("a.jsonl", '{"a": 1}\n{"a": \n', "input-bad-json", {"row": 2}),
        ("a.jsonl", '{"a": 1}\n\n"text"\n', "input-json-not-object", {"row": 3}),
    ],
)
def test_bad_json(tmp_path, name, text, code, params):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    error = input_error(path)

    assert error.code == code
    if params is not None:
        assert {key: error.params[key] for key in params} == params


def test_json_lines_in_gb18030_with_a_bad_line(tmp_path):
    path = tmp_path / "data.jsonl"
    good = '{"姓名": "张三"}\n'.encode("gb18030")
    path.write_bytes(good * 3000 + b'{"x": "\xff"}\n' + good)

    error = input_error(path)

    assert (error.code, error.params) == ("input-encoding", {"row": 3001, "encoding": "gb18030"})


# --- Files that are not there or not readable ----------------------------------------------


def test_missing_file(tmp_path):
    error = input_error(tmp_path / "nope.csv")

    assert error.code == "input-not-found"


def test_directory(tmp_path):
    assert input_error(tmp_path).code == "input-is-directory"


def test_unknown_extension(tmp_path):
    path = tmp_path / "data.pdf"
    path.write_bytes(b"%PDF-1.4")

    error = input_error(path)

    assert (error.code, error.params["ext"]) == ("input-unknown-format", ".pdf")


@pytest.mark.parametrize("content", [b"", b"\n\n,,\n"])
@pytest.mark.parametrize("name", ["empty.csv", "empty.xlsx"])
def test_empty_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)

    assert input_error(path).code == "input-empty"


# --- The table object ----------------------------------------------------------------------


def test_rows_can_be_read_only_once(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(CHINESE_CSV, encoding="utf-8")

    with open_table(path) as table:
        list(table.rows())
        with pytest.raises(RuntimeError):
            table.rows()


def test_every_reader_message_has_both_languages():
    texts = catalogue()
    reader_codes = [
        "input-not-found", "input-is-directory", "input-unreadable", "input-unknown-format",
        "input-empty", "input-not-format", "input-is-markup", "input-corrupt",
        "input-password-protected", "input-encoding", "input-encoding-undetected",
        "input-encoding-unknown", "input-bad-csv", "input-sheet-not-found", "input-bad-json",
        "input-json-not-array", "input-json-not-object", "input-json-records-ambiguous",
        "input-json-no-records", "json-records-in-member", "json-nested-read",
        "rows-above-header-skipped",
        "footer-row-skipped", "rows-below-totals-skipped", "content-format-differs",
        "extra-cells-ignored",
    ]  # fmt: skip

    for code in reader_codes:
        assert set(texts[code]) == {"zh", "en"}, code


def test_a_first_sheet_of_the_type_lacking_a_column_is_still_the_one_read(tmp_path):
    """This month's sheet names 治疗状态 otherwise (状态) and so lacks a required column; last
    month's is complete. Read from last month's, old values overwrote the records: the first
    sheet has the records' ID, so it is read, and its missing column reported."""
    from artreport.validation.validator import open_export

    cycle = load_schema().get("cycle")
    required = [f.label for f in cycle.required_fields]
    this_month = [h if h != "治疗状态(字典项)" else "状态" for h in required]
    path = write_workbook(
        tmp_path / "months.xlsx",
        {
            "11月": [this_month, ["x"] * len(this_month)],
            "10月": [required, ["y"] * len(required)],
        },
    )
    with open_export(cycle, path) as table:
        assert table.sheet == "11月"


# --- header rows below the header ----------------------------------------------------------


def test_the_header_repeated_where_a_second_export_begins_is_skipped(tmp_path):
    """Two exports joined: the second one's header is not a record of column names."""
    path = tmp_path / "joined.csv"
    path.write_text("周期ID,移植时间\nC1,2024-01-01\n周期ID,移植时间\nC2,2024-01-02\n", "utf-8")

    table, rows = read(path)

    assert rows == [(2, ["C1", "2024-01-01"]), (4, ["C2", "2024-01-02"])]
    assert table.notices == [Notice("header-rows-skipped", 3, {"count": 1})]
    for lang in ("zh", "en"):
        assert "{" not in table.notices[0].message(lang)


@pytest.mark.parametrize(
    "lines",
    [
        ["周期ID,移植时间,移植ID", "cycleid,transplantdate,transplantid"],
        ["cycleid,transplantdate,transplantid", "周期ID,移植时间,移植ID"],
    ],
)
def test_a_second_header_row_of_the_other_names_is_skipped(tmp_path, lines):
    path = tmp_path / "two_headers.csv"
    path.write_text("\n".join([*lines, "C1,2024-01-01,张"]) + "\n", encoding="utf-8")

    table, rows = read(path, is_known_header=known_transplant_header)

    assert rows == [(3, ["C1", "2024-01-01", "张"])]
    assert codes(table.notices) == ["header-rows-skipped"]


def test_a_data_row_holding_one_column_name_is_data(tmp_path):
    path = tmp_path / "value.csv"
    path.write_text("周期ID,操作人员姓名\n周期ID,张\n", encoding="utf-8")

    table, rows = read(path, is_known_header=known_transplant_header)

    assert rows == [(2, ["周期ID", "张"])]
    assert table.notices == []


def test_header_rows_below_the_header_are_skipped_in_a_web_page(tmp_path):
    def row(*cells: str) -> str:
        return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"

    path = tmp_path / "page.html"
    path.write_text(
        "<html><table>"
        + row("周期ID", "移植时间")
        + row("cycleid", "transplantdate")
        + row("C1", "2024-01-01")
        + row("周期ID", "移植时间")
        + row("C2", "2024-01-02")
        + "</table></html>",
        encoding="utf-8",
    )

    table, rows = read(path, is_known_header=known_transplant_header)

    assert [number for number, _ in rows] == [3, 5]
    assert table.notices == [Notice("header-rows-skipped", 2, {"count": 2})]


def test_header_rows_below_the_header_are_skipped_in_a_workbook(tmp_path):
    path = write_xlsx(
        tmp_path / "joined.xlsx",
        [
            ["周期ID", "移植时间"],
            ["cycleid", "transplantdate"],
            ["C1", "2024-01-01"],
            ["周期ID", "移植时间"],
            ["C2", "2024-01-02"],
        ],
    )

    table, rows = read(path, is_known_header=known_transplant_header)

    assert rows == [(3, ["C1", "2024-01-01"]), (5, ["C2", "2024-01-02"])]
    assert table.notices == [Notice("header-rows-skipped", 2, {"count": 2})]


def test_every_row_one_wider_with_the_extra_filled_is_refused_as_shifted(tmp_path):
    """Every row one cell wider than the header, the extra filled: an address written with an
    unquoted comma in every row looks so, every value one column off. It cannot be told from
    a column whose header was left out, so the rows are refused, not sent."""
    path = tmp_path / "every_row.csv"
    lines = ["a,b"] + [f"{n},杭州市,西湖区{n}" for n in range(12)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    table, rows = read(path)

    assert len(rows) == 12
    assert sorted(table.row_problems) == list(range(2, 14))


def test_a_trailing_delimiter_on_every_line_holds_with_some_rows_shifted(tmp_path):
    """Ten rows, each ending with a delimiter, two of them also shifted by an unquoted comma:
    the eight good rows are the file's shape, only the two are refused."""
    path = tmp_path / "trail10.csv"
    lines = ["a,b,c"] + [f"{n},x,y," for n in range(8)] + ["8,x,y,z,", "9,x,y,z,"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    table, rows = read(path)

    assert len(rows) == 10
    assert sorted(table.row_problems) == [10, 11]


@pytest.mark.parametrize(
    "repeat",
    ["周期ID ,移植时间,移植ID", "周期id,移植时间,移植ID", "周期ID,移植时间"],
    ids=["space", "case", "shorter"],
)
def test_the_header_repeated_not_quite_alike_is_skipped(tmp_path, repeat):
    path = tmp_path / "joined.csv"
    path.write_text(
        f"周期ID,移植时间,移植ID\nC1,2024-01-01,T1\n{repeat}\nC2,2024-01-02,T2\n", "utf-8"
    )

    table, rows = read(path, is_known_header=known_transplant_header)

    assert [number for number, _ in rows] == [2, 4]
    assert codes(table.notices) == ["header-rows-skipped"]


@pytest.mark.parametrize(
    ("code", "value", "shown"),
    [
        ("000000", 101.0, "000101"),
        ("[$-804]00000000", 3001.0, "00003001"),
        ('"ZJ"0000', 101.0, "ZJ0101"),
        ("\\A00-", 7.0, "A07-"),
        ("000000", 1234567.0, "1234567"),
        ("000000", 101.5, None),  # rounded by the format: no code
        ("000000", -5.0, None),
    ],
)
def test_a_format_of_leading_zeros_shows_a_whole_number_so(
    code: str, value: float, shown: str | None
) -> None:
    from artreport.readers.number_formats import zero_padding

    padding = zero_padding(code)
    assert padding is not None
    assert padding.shown(value) == shown


@pytest.mark.parametrize(
    "code",
    [
        "General",
        "0",
        "0.00",
        "#,##0",
        "000.00",
        "00%",
        "000000;-000000",
        "[Red]000",
        "000-000",
        "yyyy-mm-dd",
        "0.00E+00",
        '"ZJ"0',
    ],
)
def test_other_formats_leave_the_number_as_it_is(code: str) -> None:
    from artreport.readers.number_formats import zero_padding

    assert zero_padding(code) is None


@pytest.mark.parametrize("name", ["report.csv", "report.xlsx"])
def test_records_and_footnotes_below_a_total_told_apart_as_the_records_fill_them(tmp_path, name):
    """A record filling three in five of the columns the last record filled is a record;
    footnote labels in cells of their own are footnotes, however many columns they fill; a
    total right under the header leaves the rows below it records."""
    header = ["周期ID", "档案信息ID", "方案", "周期开始时间", "周期次数"]
    rows = [
        header,
        ["C1", "INF1", "IVF", "2023-05-01", "1"],
        ["合计", "", "", "", ""],
        ["制表人", "李四", "审核", "王五", "共1页"],
        ["C2", "INF2", "IVF", "", ""],  # three in five: a record
    ]
    table, read_rows = read(write_report(tmp_path / name, rows))
    assert [number for number, _ in read_rows] == [2, 5]
    assert set(table.row_problems) == {5}

    first = write_report(tmp_path / f"first{Path(name).suffix}", [header, ["合计"], rows[1]])
    table, read_rows = read(first)
    assert [number for number, _ in read_rows] == [3]
    assert set(table.row_problems) == {3}


def test_blank_lines_are_not_held_while_the_usual_width_is_looked_for(tmp_path: Path) -> None:
    """An export padded with blank lines after its first row was held whole while the reader
    looked for 50 filled rows to judge the width by: ~150 bytes a blank line, 1.7 GB for a
    10 MB file of them."""
    import tracemalloc

    path = tmp_path / "padded.csv"
    path.write_text("a,b\n1,2\n" + "\n" * 200_000 + "3,4\n", encoding="utf-8")
    tracemalloc.start()
    try:
        with open_table(path) as table:
            rows = [(number, cells) for number, cells in table.rows() if any(cells)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == [(2, ["1", "2"]), (200_003, ["3", "4"])]
    assert peak < 10_000_000  # it was about 30 MB, growing with every blank line


def test_a_cell_beyond_the_csv_limit_is_said_without_the_librarys_english(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ovum.csv"
    path.write_text("a,b\n1,2\n3," + "A" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught, open_table(path) as table:
        list(table.rows())
    assert (caught.value.code, caught.value.params["row"]) == ("input-bad-csv", 3)
    assert "有一个单元格超过 131072 个字符" in caught.value.message("zh")
    assert "field larger" not in caught.value.message("zh")
