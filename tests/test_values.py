"""Every normalisation and every cell-level problem code, as source → result tables."""

from __future__ import annotations

import datetime as dt

import pytest

from artreport.schema import Field
from artreport.validation.columns import ColumnCache, convert_column
from artreport.validation.problems import CellError
from artreport.validation.values import BLANK, value_reader

TEXT = Field("cycleid", "周期ID", "string")
INTEGER = Field("ordernumber", "周期次数", "integer")
NUMBER = Field("wInfertilityyear", "不孕年龄", "number")
DATE = Field("wBirthday", "女方出生日期", "date")
DATETIME = Field("operationdate", "手术时间", "datetime")


def read(field: Field, value: object, *, doubles: bool = False) -> object:
    return value_reader(field, numbers_are_doubles=doubles)(value)


def problem_code(field: Field, value: object, *, doubles: bool = False) -> str:
    with pytest.raises(CellError) as caught:
        read(field, value, doubles=doubles)
    return caught.value.code


@pytest.mark.parametrize(
    ("source", "doubles", "expected"),
    [
        ("CYC001", False, "CYC001"),
        ("  CYC001 ", False, "CYC001"),
        ("000123", False, "000123"),
        (10388644.0, True, "10388644"),
        (10388644, True, "10388644"),
        (3.73, True, "3.73"),
        (330101199001011234, False, "330101199001011234"),  # exact JSON integer
        ("", False, BLANK),
        ("   ", False, BLANK),
        (None, False, BLANK),
        ("张三", False, "张三"),
    ],
)
def test_text(source: object, doubles: bool, expected: object) -> None:
    assert read(TEXT, source, doubles=doubles) == expected


@pytest.mark.parametrize(
    ("source", "doubles", "code"),
    [
        ("3.30101199001011E+17", False, "precision-lost"),
        ("3.30101199001011e17", False, "precision-lost"),
        ("3.30101199001011E+017", False, "precision-lost"),  # LibreOffice's CSV
        (3.30101199001011e17, True, "precision-lost"),
        (330101199001011000, True, "precision-lost"),  # an .xls double that came back as int
        (1234567890123456.0, True, "precision-lost"),
        (dt.datetime(2023, 3, 5), True, "date-in-text-field"),
        (True, False, "not-text"),
        ({"a": 1}, False, "not-text"),
        ([1, 2], False, "not-text"),
    ],
)
def test_text_problems(source: object, doubles: bool, code: str) -> None:
    assert problem_code(TEXT, source, doubles=doubles) == code


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("3", 3),
        (" 3 ", 3),
        ("3.0", 3),
        (3.0, 3),
        (3, 3),
        ("-2", -2),
        ("３", 3),
        ("１２", 12),
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("", BLANK),
        (None, BLANK),
    ],
)
def test_integer(source: object, expected: object) -> None:
    assert read(INTEGER, source) == expected


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("abc", "not-integer"),
        ("3.5", "not-integer"),
        (3.5, "not-integer"),
        ("1_000", "not-integer"),
        ("nan", "not-integer"),
        (True, "not-integer"),
        (dt.date(2023, 1, 1), "not-integer"),
        ("2147483648", "integer-out-of-range"),
        (2147483648, "integer-out-of-range"),
        ("-2147483649", "integer-out-of-range"),
        (1e12, "integer-out-of-range"),
    ],
)
def test_integer_problems(source: object, code: str) -> None:
    assert problem_code(INTEGER, source) == code


@pytest.mark.parametrize(
    ("source", "expected"),
    [("3.5", 3.5), ("3", 3), (3.5, 3.5), (4, 4), ("３.５", 3.5), (" 2.25 ", 2.25), ("", BLANK)],
)
def test_number(source: object, expected: object) -> None:
    assert read(NUMBER, source) == expected


@pytest.mark.parametrize(
    ("source", "doubles", "expected"),
    [
        ("7.0", False, 7),
        (35.0, True, 35),
        (35.0, False, 35),
        (-0.0, True, 0),
        (2.0**60, True, 2.0**60),
    ],
)
def test_a_whole_number_reads_as_an_int_whatever_the_file_wrote(
    source: object, doubles: bool, expected: object
) -> None:
    """35.0 in a workbook is the 35 of a CSV: the body sent, and so --changed-only's view of
    the row, is the same. Past 2**53 a double's digits are not the number's own: left a double."""
    value = read(NUMBER, source, doubles=doubles)
    assert (value, type(value)) == (expected, type(expected))


@pytest.mark.parametrize("source", ["abc", "1,5", "inf", "nan", True, {"x": 1}])
def test_number_problems(source: object) -> None:
    assert problem_code(NUMBER, source) == "not-number"


@pytest.mark.parametrize(
    ("source", "doubles", "expected"),
    [
        ("2023-05-06", False, "2023-05-06"),
        ("2023/5/6", False, "2023-05-06"),
        ("2023.05.06", False, "2023-05-06"),
        ("2023年5月6日", False, "2023-05-06"),
        ("20230506", False, "2023-05-06"),
        ("2023-05-06 08:00:00", False, "2023-05-06"),
        ("２０２３－０５－０６", False, "2023-05-06"),
        (dt.datetime(2023, 5, 6, 0, 0), True, "2023-05-06"),
        (dt.date(2023, 5, 6), True, "2023-05-06"),
        (20230506, False, "2023-05-06"),
        (45052.0, True, "2023-05-06"),  # an Excel serial day whose date format was lost
        ("", False, BLANK),
    ],
)
def test_date(source: object, doubles: bool, expected: object) -> None:
    assert read(DATE, source, doubles=doubles) == expected


@pytest.mark.parametrize(
    ("source", "doubles"),
    [
        ("2023-02-30", False),
        ("2023-13-01", False),
        ("6/5/2023", False),  # day-first or month-first: ambiguous, never guessed
        ("yesterday", False),
        ("20231301", False),
        (45052.0, False),  # a bare number in JSON is not an Excel serial
        (dt.time(8, 0), True),
        (True, False),
    ],
)
def test_date_problems(source: object, doubles: bool) -> None:
    assert problem_code(DATE, source, doubles=doubles) == "bad-date"


@pytest.mark.parametrize(
    ("source", "doubles", "expected"),
    [
        ("2023-05-06 08:00:00", False, "2023-05-06 08:00:00"),
        ("2023/5/6 8:00", False, "2023-05-06 08:00:00"),
        ("2023/5/6 8:00:09", False, "2023-05-06 08:00:09"),
        ("2023-05-06", False, "2023-05-06 00:00:00"),
        ("2023年5月6日", False, "2023-05-06 00:00:00"),
        ("2023年5月6日 8时30分", False, "2023-05-06 08:30:00"),
        ("20230506", False, "2023-05-06 00:00:00"),
        ("20230506083000", False, "2023-05-06 08:30:00"),
        ("2023-05-06T08:00:00", False, "2023-05-06 08:00:00"),
        ("2023-05-06 08:00:00.000", False, "2023-05-06 08:00:00"),
        (dt.datetime(2023, 5, 6, 8, 0, 0, 500), True, "2023-05-06 08:00:00"),
        (dt.date(2023, 5, 6), True, "2023-05-06 00:00:00"),
        (45052.5, True, "2023-05-06 12:00:00"),
        # 08:30 as a double falls a hair short of it: the nearest second, not the one below.
        (45052.35416666666, True, "2023-05-06 08:30:00"),
    ],
)
def test_datetime(source: object, doubles: bool, expected: object) -> None:
    assert read(DATETIME, source, doubles=doubles) == expected


@pytest.mark.parametrize(
    "source", ["2023-02-30 08:00:00", "2023-05-06 25:00:00", "2023/5/6 8", "soon", "5/6/2023 8:00"]
)
def test_datetime_problems(source: object) -> None:
    assert problem_code(DATETIME, source) == "bad-datetime"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2023/5/6 下午 3:00", "2023-05-06 15:00:00"),
        ("2023-05-06 下午3:00", "2023-05-06 15:00:00"),
        ("2023/5/6 上午 8:00", "2023-05-06 08:00:00"),
        ("2023年5月6日 下午3点30分", "2023-05-06 15:30:00"),
        ("2023-5-6 8:30 PM", "2023-05-06 20:30:00"),
        ("2023/5/6 8:30:15 AM", "2023-05-06 08:30:15"),
        ("２０２３/５/６ 下午 ３:００", "2023-05-06 15:00:00"),
        ("06-May-2023", "2023-05-06 00:00:00"),
        ("6-may-2023", "2023-05-06 00:00:00"),
        ("06-Sep-2023 15:30", "2023-09-06 15:30:00"),
        ("06-Sep-2023 3:30 PM", "2023-09-06 15:30:00"),
    ],
)
def test_a_twelve_hour_time_and_a_months_name_as_a_spreadsheet_shows_them(
    source: str, expected: str
) -> None:
    """What Excel and WPS write of such cells when a sheet is saved "as displayed"."""
    assert read(DATETIME, source) == expected
    assert read(DATE, source) == expected[:10]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("2024-05-06T14:00:00+08:00", "2024-05-06 14:00:00"),  # China's time, as it is
        ("2024-05-06 14:00:00+0800", "2024-05-06 14:00:00"),
        ("2024-05-06T14:00+08", "2024-05-06 14:00:00"),
        ("2024-05-06T06:00:00Z", "2024-05-06 14:00:00"),
        ("2024-05-06T06:00:00.000Z", "2024-05-06 14:00:00"),  # JavaScript's toISOString
        ("2024-05-06T06:00:00.999+00:00", "2024-05-06 14:00:00"),
        ("2024-05-05T20:30:00-04:00", "2024-05-06 08:30:00"),  # the next day in China
        ("2024-05-06T23:30:00+09:00", "2024-05-06 22:30:00"),
        ("2024-05-05T17:00:00z", "2024-05-06 01:00:00"),
        ("２０２４-０５-０６T１４:００:００＋０８:００", "2024-05-06 14:00:00"),
    ],
)
def test_an_iso_date_time_with_an_offset_is_read_in_china_s_time(
    source: str, expected: str
) -> None:
    """JSON exports write moments with their offset from UTC; the platform's times are
    China's local time."""
    assert read(DATETIME, source) == expected
    assert read(DATE, source) == expected[:10]


@pytest.mark.parametrize(
    "source",
    [
        "2024-05-06T14:00:00+25:00",
        "2024-05-06T14:00:00+08:60",
        "2024-02-30T14:00:00+08:00",
        "2024-05-06T24:00:00Z",
        "2024-05-06T14:00:00+8",
        "2024-05-06T14:00:00 UTC",
        "9999-12-31T23:00:00-05:00",  # past the last day there is
    ],
)
def test_an_impossible_offset_or_moment_is_refused(source: str) -> None:
    assert problem_code(DATETIME, source) == "bad-datetime"
    assert problem_code(DATE, source) == "bad-date"


def test_a_date_time_cell_with_a_time_zone_is_read_in_china_s_time() -> None:
    utc = dt.datetime(2024, 5, 6, 6, 0, 0, 250, tzinfo=dt.timezone.utc)
    assert read(DATETIME, utc, doubles=True) == "2024-05-06 14:00:00"
    china = dt.datetime(2024, 5, 6, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert read(DATE, china, doubles=True) == "2024-05-06"


def test_twelve_oclock_on_a_twelve_hour_clock_and_what_it_cannot_say() -> None:
    assert read(DATETIME, "2023/5/6 上午 12:30") == "2023-05-06 00:30:00"
    assert read(DATETIME, "2023/5/6 12:00 AM") == "2023-05-06 00:00:00"
    assert read(DATETIME, "2023/5/6 下午 12:05") == "2023-05-06 12:05:00"
    assert read(DATETIME, "2023/5/6 12:00 PM") == "2023-05-06 12:00:00"
    # A half day that contradicts the hour, or said twice; a year whose century, and a
    # number that is the day or the year, would be guessed.
    for source in (
        "2023/5/6 下午 13:00",
        "2023/5/6 0:30 AM",
        "2023/5/6 下午 3:00 PM",
        "2023/5/6 下午",
        "6-May-23",
        "23-May-06",
        "06-Mai-2023",
    ):
        assert problem_code(DATETIME, source) == "bad-datetime", source


NAME = Field("wName", "女方姓名", "string", pii="name")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("张三\u200b", "张三"),
        ("\ufeff张三", "张三"),
        ("张\u200b三", "张三"),
        ("买买提·艾力", "买买提·艾力"),
        ("𠀀明", "𠀀明"),
        ("\u200b", BLANK),
        ("张\u3000三", "张\u3000三"),  # a space the clerk typed and sees
    ],
)
def test_a_name_is_sent_without_what_shows_as_nothing(source: str, expected: object) -> None:
    assert read(NAME, source) == expected


@pytest.mark.parametrize("field", [INTEGER, NUMBER])
@pytest.mark.parametrize(
    ("source", "expected"),
    [("1 234", 1234), ("1 234 567", 1234567), ("- 5", -5), ("3 \u200b", 3), ("１ ２３４", 1234)],
)
def test_spaces_between_thousands_are_read(field: Field, source: str, expected: int) -> None:
    assert read(field, source) == expected


@pytest.mark.parametrize("field", [INTEGER, NUMBER])
@pytest.mark.parametrize("source", ["3 5", "3\u00a05", "12 5", "1 23", "1234 567", "3\u30005"])
def test_spaces_that_join_two_numbers_are_refused_not_read_as_one(
    field: Field, source: str
) -> None:
    # 3 5 is "3 or 5", or a slip: 35 is a number the clerk never wrote.
    assert problem_code(field, source) in ("not-integer", "not-number")


@pytest.mark.parametrize("field", [DATE, DATETIME])
@pytest.mark.parametrize(
    ("source", "doubles"),
    [
        ("0023-05-06", False),  # 2023 with a slip of the keys: strftime wrote 23-05-06
        ("0023-05-06 08:00:00", False),
        ("0023/5/6 8:00", False),
        ("1023年5月6日", False),
        ("1899-12-31", False),
        (dt.datetime(1899, 12, 30, 8, 30), True),  # an ods's date before 1900
        (dt.date(23, 5, 6), True),
    ],
)
def test_a_date_before_1900_is_refused_not_sent_as_a_mangled_year(
    field: Field, source: object, doubles: bool
) -> None:
    with pytest.raises(CellError) as caught:
        read(field, source, doubles=doubles)
    assert caught.value.code == ("bad-date" if field is DATE else "bad-datetime")
    assert caught.value.params["wording"] == "date-before-earliest-year"


@pytest.mark.parametrize(
    ("field", "source", "meant"),
    [
        (DATE, "45052", "2023-05-06"),
        (DATETIME, "45052.354166666664", "2023-05-06 08:30:00"),
        (DATETIME, "４５０５２", "2023-05-06 00:00:00"),
    ],
)
def test_a_spreadsheets_date_number_in_a_csv_is_refused_naming_the_date_it_stands_for(
    field: Field, source: str, meant: str
) -> None:
    """A date column that went out to CSV formatted as a number got the bare "not a valid
    date" message: the clerk saw 45052 and no hint of what had happened to it."""
    with pytest.raises(CellError) as caught:
        read(field, source)
    assert caught.value.code == ("bad-date" if field is DATE else "bad-datetime")
    assert caught.value.params["wording"] == "date-as-serial-number"
    assert caught.value.params["date"] == meant


@pytest.mark.parametrize("source", ["12345", "99999", "45052x", "4505"])
def test_other_numbers_in_a_date_field_get_the_plain_message(source: str) -> None:
    with pytest.raises(CellError) as caught:
        read(DATE, source)
    assert "wording" not in caught.value.params


def test_the_earliest_dates_still_read() -> None:
    assert read(DATE, "1900-01-01") == "1900-01-01"
    assert read(DATETIME, "1900/1/1 8:00") == "1900-01-01 08:00:00"


def test_a_bad_value_is_reported_again_after_a_good_one_is_cached() -> None:
    reader = value_reader(DATE)
    assert reader("2023-05-06") == "2023-05-06"
    for _ in range(2):
        with pytest.raises(CellError):
            reader("2023-02-30")


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        (TEXT, '="000123"', "000123"),  # what some systems write so that Excel keeps zeros
        (INTEGER, '="3"', 3),
        (NUMBER, '="2.5"', 2.5),
        (DATE, '="2023-05-06"', "2023-05-06"),
    ],
)
def test_excel_text_wrapper_is_unwrapped(field: Field, source: str, expected: object) -> None:
    assert read(field, source) == expected


@pytest.mark.parametrize("field", [TEXT, INTEGER, NUMBER, DATE, DATETIME])
@pytest.mark.parametrize("source", ["#N/A", "#VALUE!", "#div/0!", "Err:502"])
def test_spreadsheet_error_values_are_refused(field: Field, source: str) -> None:
    assert problem_code(field, source) == "spreadsheet-error-value"


@pytest.mark.parametrize("source", ["1E0023", "2E10", "0012E5", "12E3"])
def test_a_code_shaped_like_a_number_in_scientific_notation_is_text(source: str) -> None:
    # What a spreadsheet writes of a long number has a signed exponent or a decimal point.
    assert read(TEXT, source) == source


@pytest.mark.parametrize("source", ["Err", "Error 502", "Err:5021", "ERR:502x", "Eva"])
def test_text_that_only_looks_like_a_libreoffice_error_is_text(source: str) -> None:
    assert read(TEXT, source) == source


@pytest.mark.parametrize(
    ("source", "expected"), [("10388644.0", "10388644"), ("000123", "000123"), ("7.5", "7.5")]
)
def test_a_whole_number_written_as_float_text_loses_its_point_zero(
    source: str, expected: str
) -> None:
    assert read(TEXT, source) == expected


@pytest.mark.parametrize(("source", "expected"), [(2.9999999999999996, 3), (7.000000000001, 7)])
def test_float_noise_from_spreadsheet_arithmetic_is_a_whole_number(
    source: float, expected: int
) -> None:
    assert read(INTEGER, source, doubles=True) == expected


def test_a_real_fraction_is_still_not_an_integer() -> None:
    assert problem_code(INTEGER, 2.9999, doubles=True) == "not-integer"


def spreadsheet_column(extra: list[object]) -> list[object]:
    """A date column as a spreadsheet reader hands it over: many distinct date cells, blank
    cells as empty text, and ``extra``."""
    start = dt.datetime(2023, 5, 6, 8, 0, 0)
    cells: list[object] = [start + dt.timedelta(minutes=7 * n, microseconds=n) for n in range(300)]
    cells[::10] = [dt.date(2023, 1, 1) + dt.timedelta(days=n) for n in range(30)]
    cells[5::10] = [""] * 30
    cells[7] = "  "
    return cells + extra


@pytest.mark.parametrize("field", [DATE, DATETIME])
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["2023/5/6"],
        [45052.5],
        [dt.datetime(2023, 5, 6, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))],
    ],
    ids=["date-cells", "with-text-date", "with-serial", "with-time-zone"],
)
def test_a_column_read_whole_reads_as_its_cells_one_by_one(
    field: Field, extra: list[object]
) -> None:
    reader = value_reader(field, numbers_are_doubles=True)
    cells = spreadsheet_column(extra)
    values, refused = convert_column(
        cells, field.type, reader, required=False, clear=BLANK, cache=ColumnCache()
    )
    assert values == [reader(cell) for cell in cells]
    assert not refused


@pytest.mark.parametrize("field", [DATE, DATETIME])
@pytest.mark.parametrize("early", [dt.date(23, 5, 6), dt.datetime(1899, 12, 31, 8, 30)])
def test_a_date_cell_before_1900_is_refused_in_a_column_read_whole(
    field: Field, early: dt.date
) -> None:
    # An ods holds dates before 1900 (Excel's cells cannot): 0023 for 2023 is a slip there too.
    reader = value_reader(field, numbers_are_doubles=True)
    cells = spreadsheet_column([early])
    values, refused = convert_column(
        cells, field.type, reader, required=False, clear=BLANK, cache=ColumnCache()
    )
    assert set(refused) == {len(cells) - 1}
    assert values[:-1] == [reader(cell) for cell in cells[:-1]]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (dt.datetime(2023, 5, 6, 8, 29, 59, 999000), "2023-05-06 08:30:00"),  # 45052.35416666
        (dt.datetime(2023, 5, 6, 8, 29, 59, 990000), "2023-05-06 08:30:00"),  # LibreOffice's ods
        (dt.datetime(2023, 5, 6, 23, 59, 59, 991000), "2023-05-07 00:00:00"),
        (dt.datetime(2023, 5, 6, 8, 30, 0, 400000), "2023-05-06 08:30:00"),
    ],
)
def test_a_date_time_cell_is_read_to_the_nearest_second_as_the_sheet_shows_it(
    cell: dt.datetime, expected: str
) -> None:
    assert read(DATETIME, cell, doubles=True) == expected
    # The same in a column read whole.
    cells = spreadsheet_column([cell])
    values, _ = convert_column(
        cells,
        "datetime",
        value_reader(DATETIME, numbers_are_doubles=True),
        required=False,
        clear=BLANK,
        cache=ColumnCache(),
    )
    assert values[-1] == expected


def text_date_column(field: Field, extra: list[str]) -> list[str]:
    """A CSV date column: many distinct dates written as the platform wants them, blank
    cells, and ``extra``."""
    start = dt.datetime(2023, 1, 25, 8, 0, 0)
    moments = [start + dt.timedelta(hours=13 * n, seconds=n) for n in range(300)]
    form = "%Y-%m-%d" if field.type == "date" else "%Y-%m-%d %H:%M:%S"
    cells = [moment.strftime(form) for moment in moments]
    cells[5::10] = [""] * 30
    return cells + extra


@pytest.mark.parametrize("field", [DATE, DATETIME])
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["2024-02-29", "2024-02-29 23:59:59"],
        ["2023-02-29"],
        ["2023-04-31 08:00:00"],
        ["2023-13-01"],
        ["0000-01-01"],
        ["0023-05-06"],  # each alone, in the shape the column's other cells have
        ["0023-05-06 08:00:00"],
        ["1899-12-31"],
        ["1899-12-31 23:59:59"],
        ["2023-05-06 24:00:00"],
        ["2023-05-06 23:59:60"],
        ["2023-05-06 23:60:00"],
        ["2023-05-06T08:00:00"],
        ["２０２３-05-06", "２０２３-05-06 08:00:00"],
        [" 2023-05-06", "2023-05-06 08:00:00 "],
        ["2023-05-06\n2023-05-07", "2023-05-06 08:00:00\n2023-05-07 08:00:00"],
        ["2023-05-06\n", "2023-05-06 08:00:00\n"],
        ["2023/5/6", "2023/5/6 8:00"],
    ],
)
def test_a_text_date_column_read_whole_reads_as_its_cells_one_by_one(
    field: Field, extra: list[str]
) -> None:
    reader = value_reader(field)
    cells = text_date_column(field, extra)
    expected: list[object] = []
    expected_refused = set()
    for position, cell in enumerate(cells):
        try:
            expected.append(reader(cell))
        except CellError:
            expected.append(BLANK)
            expected_refused.add(position)
    values, refused = convert_column(
        cells, field.type, reader, required=False, clear=BLANK, cache=ColumnCache()
    )
    assert (values, set(refused)) == (expected, expected_refused)


@pytest.mark.parametrize("required", [True, False])
def test_a_column_remembers_its_blank_cells_across_batches(required: bool) -> None:
    field = Field("tstatus", "治疗状态", "integer", required=required)
    reader = value_reader(field)
    cache = ColumnCache()
    codes = ["1", "2", "3", "4"] * 25
    assert convert_column(
        codes, "integer", reader, required=required, clear=BLANK, cache=cache
    ) == ([1, 2, 3, 4] * 25, set())
    with_blanks = ["1", "", "2", " "] * 25
    values, refused = convert_column(
        with_blanks, "integer", reader, required=required, clear=BLANK, cache=cache
    )
    assert values == [1, BLANK, 2, BLANK] * 25
    blank_positions = {n for n, cell in enumerate(with_blanks) if not cell.strip()}
    assert set(refused) == (blank_positions if required else set())
    values, refused = convert_column(
        codes, "integer", reader, required=required, clear=BLANK, cache=cache
    )
    assert (values, set(refused)) == ([1, 2, 3, 4] * 25, set())


def test_a_last_batch_of_one_row_is_read_through_the_cache() -> None:
    reader = value_reader(INTEGER)
    cache = ColumnCache()
    convert_column(["1", "2"] * 50, "integer", reader, required=True, clear=BLANK, cache=cache)
    assert convert_column(["2"], "integer", reader, required=True, clear=BLANK, cache=cache) == (
        [2],
        set(),
    )


ID_NUMBER = Field("wIdcode", "女方证件号码", "string", pii="idcard")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("330101199001011238", "330101199001011238"),
        ("３３０１０１１９９００１０１１２３８", "330101199001011238"),  # full-width digits
        ("330101 19900101 1238", "330101199001011238"),  # written in its groups
        ("330101-19900101-1238", "330101199001011238"),
        ("33010119900101018x", "33010119900101018X"),
        ("330101—19900101—1238", "330101199001011238"),  # em dashes between the groups
        ("330101 900101 123", "330101900101123"),  # an old 15-digit number
        ("ｅ１２３４５６７８", "e12345678"),  # a passport: half-width, its letter as written
        ("E 1234 5678", "E 1234 5678"),  # not a resident ID: spaces are not ours to take
        (330101199001011238, "330101199001011238"),
    ],
)
def test_an_id_number_is_put_in_the_form_the_platform_finds_the_patient_by(
    source: object, expected: str
) -> None:
    assert read(ID_NUMBER, source) == expected


@pytest.mark.parametrize("source", ["330101\u200b199001011238", "330101199001011238\u00a0x"])
def test_an_id_number_with_an_invisible_character_is_refused(source: str) -> None:
    assert problem_code(ID_NUMBER, source) == "id-look-alike-character"


def test_a_column_of_id_numbers_is_cleaned_whole_or_cell_by_cell_alike() -> None:
    cells = ["330101199001011238", "３３０１０１１９９００１０１１２３８", "", "33010119900101018x"]
    reader = value_reader(ID_NUMBER)
    values, refused = convert_column(
        cells, "id-number", reader, required=False, clear=BLANK, cache=ColumnCache()
    )
    assert values == ["330101199001011238", "330101199001011238", BLANK, "33010119900101018X"]
    assert not refused


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        (INTEGER, "1\u200b", 1),
        (NUMBER, "\ufeff3.5", 3.5),
        (NUMBER, "1\u00ad2", 12),
        (DATE, "2023-05-06\u200b", "2023-05-06"),
        (DATETIME, "\u20602023/5/6 8:00", "2023-05-06 08:00:00"),
    ],
)
def test_invisible_characters_in_numbers_and_dates_are_dropped(
    field: Field, source: str, expected: object
) -> None:
    """A zero-width space pasted in from a web page: the number looks right to the clerk and
    is right without it. (In an ID it is refused instead: see the identifier tests.)"""
    assert read(field, source) == expected


def test_a_direction_mark_in_a_number_is_refused_not_dropped() -> None:
    # U+202E shows "12" as "21": what the clerk sees is not what would be sent.
    assert problem_code(INTEGER, "\u202e12") == "not-integer"


@pytest.mark.parametrize(
    ("cell", "code"), [("#N/A", "spreadsheet-error-value"), ("#FORMULA?", "formula-without-value")]
)
def test_an_error_value_in_a_coded_field_is_named_as_such(cell: str, code: str) -> None:
    from artreport.validation.values import coded_reader, read_integer

    with pytest.raises(CellError) as caught:
        coded_reader(read_integer, {1: "是", 2: "否"})(cell)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("field", "source", "expected"),
    [
        (NUMBER, "12,345,678", 12345678),
        (NUMBER, "1,234.5", 1234.5),
        (INTEGER, "1,002,003", 1002003),
        (NUMBER, "-1,234,567", -1234567),
    ],
)
def test_thousands_separators_are_read_as_excel_reads_them(
    field: Field, source: str, expected: object
) -> None:
    # A web page exported "to Excel", or a CSV saved as the sheet shows it.
    assert read(field, source) == expected


@pytest.mark.parametrize(
    "source",
    # 3,250 kg is 3.25 kg written with a decimal comma as likely as 3250: refused, as 0,500.
    [
        "1,5",
        "12,34",
        "1,2345",
        ",123",
        "1,,234",
        "3,250",
        "0,500",
        "0,001,000",
        "１，２３４，５６７",
    ],
)
def test_a_comma_that_is_no_thousands_separator_is_refused(source: str) -> None:
    assert problem_code(NUMBER, source) == "not-number"
