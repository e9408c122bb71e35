"""Synthetic but realistic records — no real people — for samples, benchmarks, tests and rehearsals.

Row ``n`` (``start``, ``start + 1``, …) of every record type belongs to one fictitious treatment
*case*: the information record ``INF{n:08d}``, the cycle ``CYC{n:08d}`` whose ``informationid`` is
``INF{n:08d}``, that cycle's ovum ``OVU{n:08d}``, transfer ``TRA{n:08d}``…, the thaw ``THW{n:08d}``
and the thaw detail that points at it. A case's facts (the couple, their ID numbers and birthdays,
the treatment timeline) are a pure function of ``(seed, n)``, so record types generated in
separate calls agree with each other; the other cells come from one random stream per call.
Values are what the platform accepts, typed as the schema says: ``str``, ``int``, ``float``,
``datetime.date`` and ``datetime.datetime`` (whole seconds). Blank optional cells are left out.

:func:`write_rows` saves rows as a hospital system would export them: CSV (any encoding, CRLF),
XLSX with real date cells, JSON or JSON Lines.
"""

from __future__ import annotations

import csv
import json
import random
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from artreport.schema import Field, RecordType, load_schema

HeaderStyle = Literal["label", "name"]

DEFAULT_ORGID = "ZJ3301001"
#: Optional cells are filled this often; blanks are part of every real export.
OPTIONAL_FILL = 0.9

#: Prefix of each record type's generated primary key: ``CYC00000001``.
ID_PREFIXES: Mapping[str, str] = {
    "information": "INF",
    "cycle": "CYC",
    "ovum": "OVU",
    "ejaculation": "EJA",
    "insemination": "INS",
    "eresult": "ERS",
    "freeze": "FRZ",
    "thaw": "THW",
    "thawdet": "THD",
    "biopsy": "BIO",
    "transplant": "TRA",
    "result": "RES",
    "childbirth": "CHB",
    "supplier": "SUP",
}

DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

# --------------------------------------------------------------------------------------------
# Word lists


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _triples(text: str) -> tuple[tuple[str, str, str], ...]:
    words = text.split()
    return tuple((words[i], words[i + 1], words[i + 2]) for i in range(0, len(words), 3))


_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方邹孟熊秦邱江尹薛"
    "段雷侯史陶贺顾毛郝龚邵钱严戴孔汤"
)
_MALE_GIVEN = _words(
    """伟 强 磊 军 勇 杰 涛 斌 超 明 刚 辉 鹏 飞 鑫 波 宇 浩 凯 健 俊 旭 宁 龙
    建华 建国 志强 志明 俊杰 浩然 宇轩 子豪 文博 海涛 晓东 国强 家豪 天宇 明轩
    振华 永刚 建军 晨阳 一鸣 伟民 立新 嘉诚 博文"""
)
_FEMALE_GIVEN = _words(
    """芳 娜 敏 静 丽 艳 娟 霞 婷 雪 琳 洁 颖 倩 玲 燕 萍 丹 慧 佳 秀英 欣怡 诗涵
    梦琪 雅琴 晓燕 丽华 秀兰 海燕 桂英 玉兰 雨欣 思琪 婉婷 静怡 雅婷 晓丽 春梅 美玲
    丽娟 佳怡 梓涵 紫萱 嘉怡 若曦 晓雪 亚楠 慧敏"""
)
# (division code, city, district): the code begins the ID number of someone born there.
_DISTRICTS = _triples(
    """330102 杭州市 上城区  330105 杭州市 拱墅区  330106 杭州市 西湖区
    330108 杭州市 滨江区  330109 杭州市 萧山区  330110 杭州市 余杭区
    330111 杭州市 富阳区  330112 杭州市 临安区  330122 杭州市 桐庐县
    330127 杭州市 淳安县  330182 杭州市 建德市  330203 宁波市 海曙区
    330205 宁波市 江北区  330206 宁波市 北仑区  330212 宁波市 鄞州区
    330281 宁波市 余姚市  330282 宁波市 慈溪市  330226 宁波市 宁海县
    330302 温州市 鹿城区  330304 温州市 瓯海区  330381 温州市 瑞安市
    330382 温州市 乐清市  330324 温州市 永嘉县  330402 嘉兴市 南湖区
    330481 嘉兴市 海宁市  330483 嘉兴市 桐乡市  330421 嘉兴市 嘉善县
    330502 湖州市 吴兴区  330522 湖州市 长兴县  330523 湖州市 安吉县
    330602 绍兴市 越城区  330603 绍兴市 柯桥区  330681 绍兴市 诸暨市
    330702 金华市 婺城区  330782 金华市 义乌市  330783 金华市 东阳市
    330784 金华市 永康市  330802 衢州市 柯城区  330881 衢州市 江山市
    330902 舟山市 定海区  331002 台州市 椒江区  331003 台州市 黄岩区
    331081 台州市 温岭市  331082 台州市 临海市  331102 丽水市 莲都区
    331181 丽水市 龙泉市"""
)
# The reporting hospital is in Hangzhou; most couples live within reach of it.
_HANGZHOU = tuple(d for d in _DISTRICTS if d[1] == "杭州市")
_STREETS = _words(
    """解放路 延安路 中山路 人民路 环城西路 天目山路 庆春路 文三路 学院路 江南大道
    建设路 新华路 胜利路 凤起路 体育场路 钱江路 市心路 世纪大道 湖滨路 解放北路
    县前街 青年路 和平路 振兴路"""
)
_HOSPITALS = _words(
    """浙江大学医学院附属妇产科医院 杭州市妇产科医院 浙江省人民医院 宁波市妇女儿童医院
    温州医科大学附属第二医院 嘉兴市妇幼保健院 湖州市妇幼保健院 绍兴市妇幼保健院
    金华市妇幼保健院 衢州市妇幼保健院 台州市妇女儿童医院 丽水市妇幼保健院"""
)
_MOBILE_PREFIXES = _words("135 136 137 138 139 150 151 152 157 158 159 182 183 187 188 189 199")

# --------------------------------------------------------------------------------------------
# Resident ID numbers (GB 11643-1999)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_character(first_seventeen: str) -> str:
    """The 18th character of a resident ID number whose first 17 digits are given."""
    total = sum(int(d) * w for d, w in zip(first_seventeen, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id(area: str, birth: date, sequence: int) -> str:
    """An 18-digit resident ID number; an odd ``sequence`` marks a man, an even one a woman."""
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + id_check_character(body)


# --------------------------------------------------------------------------------------------
# A case: facts shared by every record of index n

_MASK64 = (1 << 64) - 1


def _mix(value: int) -> int:
    # splitmix64's finaliser: cheap, and every input bit reaches every output bit.
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


class _Bits:
    """Draws from one 64-bit hash without reusing its bits (each draw divides them away)."""

    __slots__ = ("_value",)

    def __init__(self, value: int) -> None:
        self._value = value

    def below(self, limit: int) -> int:
        self._value, drawn = divmod(self._value, limit)
        return drawn

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def pick(self, choices: Sequence[Any]) -> Any:
        return choices[self.below(len(choices))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent


class _Person(NamedTuple):
    name: str
    birth: date
    idcode: str
    household_address: str
    current_address: str


_BORN_FIRST = date(1979, 1, 1)
_BORN_DAYS = (date(2003, 1, 1) - _BORN_FIRST).days  # ages 20–45 when treated in 2023–24
# Coprime to _BORN_DAYS, so n → n·k mod _BORN_DAYS visits every birthday once per block.
_BIRTHDAY_STRIDE = 5003
_CYCLE_FIRST = date(2023, 1, 1)
_CYCLE_DAYS = (date(2024, 4, 1) - _CYCLE_FIRST).days


def _at(day: date, bits: _Bits, first_hour: int, last_hour: int) -> datetime:
    return datetime(
        day.year,
        day.month,
        day.day,
        bits.between(first_hour, last_hour),
        bits.below(60),
        bits.below(60),
    )


def _address(bits: _Bits, district: tuple[str, str, str]) -> str:
    _code, city, county = district
    return (
        f"浙江省{city}{county}{bits.pick(_STREETS)}{bits.between(1, 999)}号"
        f"{bits.between(1, 30)}幢{bits.between(1, 28)}{bits.between(1, 4):02d}室"
    )


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


_T = TypeVar("_T")


class _fact(Generic[_T]):
    """``functools.cached_property`` without its lock, which costs more than most facts."""

    def __init__(self, compute: Callable[[Any], _T]) -> None:
        self._compute = compute
        self._name = compute.__name__

    def __get__(self, case: Any, owner: type | None = None) -> _T:
        # Stored in the instance, so the next lookup never reaches this descriptor.
        value = case.__dict__[self._name] = self._compute(case)
        return value


class _Case:
    """The fictitious treatment of index ``n``: each fact is computed on first use."""

    def __init__(self, seed: int, n: int) -> None:
        self.n = n
        self._seed = seed
        self._key = _mix(((seed & 0xFFFFFFFF) << 32) ^ n)

    def bits(self, what: str) -> _Bits:
        return _Bits(_mix(self._key ^ zlib.crc32(what.encode())))

    def _person(self, role: str, birth: date, sequence: int) -> _Person:
        bits = self.bits(role + "-person")
        given = _FEMALE_GIVEN if sequence % 2 == 0 else _MALE_GIVEN
        name = bits.pick(_SURNAMES) + bits.pick(given)
        home = bits.pick(_DISTRICTS)
        lives_at_home = bits.chance(40)
        household = _address(self.bits(role + "-home"), home)
        now_bits = self.bits(role + "-now")
        current = household if lives_at_home else _address(now_bits, now_bits.pick(_HANGZHOU))
        return _Person(name, birth, resident_id(home[0], birth, sequence), household, current)

    @_fact
    def woman_birth(self) -> date:
        return _BORN_FIRST + timedelta(days=self.bits("woman-birth").below(_BORN_DAYS))

    @_fact
    def man_birth(self) -> date:
        offset = timedelta(days=self.bits("man-birth").between(-3 * 365, 6 * 365))
        return min(max(self.woman_birth - offset, _BORN_FIRST), date(2002, 12, 31))

    @_fact
    def woman(self) -> _Person:
        return self._person("woman", self.woman_birth, 2 * self.bits("woman").below(500))

    @_fact
    def man(self) -> _Person:
        return self._person("man", self.man_birth, 2 * self.bits("man").below(500) + 1)

    @_fact
    def client(self) -> _Person:
        """A man whose ID number no other case shares (for self-semen storage, keyed by it)."""
        day = (self.n * _BIRTHDAY_STRIDE + self._seed * 7919) % _BORN_DAYS
        block = self.n // _BORN_DAYS
        # Unique while block < 500, that is for n below four million.
        sequence = 2 * ((block + day * 37) % 500) + 1
        return self._person("client", _BORN_FIRST + timedelta(days=day), sequence)

    @_fact
    def medical_record(self) -> str:
        # Numeric with leading zeros, as hospital systems print them.
        return f"{388_000 + self.n * 7:08d}"

    # The treatment timeline, in order.
    @_fact
    def registered(self) -> datetime:
        bits = self.bits("registered")
        return _at(self.cycle_start.date() - timedelta(days=bits.between(3, 180)), bits, 8, 16)

    @_fact
    def cycle_start(self) -> datetime:
        bits = self.bits("cycle_start")
        return _at(_CYCLE_FIRST + timedelta(days=bits.below(_CYCLE_DAYS)), bits, 7, 11)

    @_fact
    def stimulation_start(self) -> date:
        return self.cycle_start.date() + timedelta(days=self.bits("stimulation").between(0, 3))

    @_fact
    def trigger(self) -> datetime:
        bits = self.bits("trigger")
        day = self.stimulation_start + timedelta(days=bits.between(9, 13))
        return _at(day, bits, 20, 22)

    @_fact
    def retrieval(self) -> datetime:
        return self.trigger + timedelta(minutes=self.bits("retrieval").between(35 * 60, 37 * 60))

    @_fact
    def insemination(self) -> datetime:
        return self.trigger + timedelta(minutes=self.bits("iui").between(24 * 60, 40 * 60))

    @_fact
    def embryo_day(self) -> int:
        """3 for a cleavage-stage embryo, 5 for a blastocyst."""
        return 3 if self.bits("embryo_day").chance(55) else 5

    def _day_after_retrieval(self, days: int, what: str) -> datetime:
        return _at(self.retrieval.date() + timedelta(days=days), self.bits(what), 9, 16)

    @_fact
    def transfer(self) -> datetime:
        return self._day_after_retrieval(self.embryo_day, "transfer")

    @_fact
    def freeze(self) -> datetime:
        return self._day_after_retrieval(self.embryo_day, "freeze")

    @_fact
    def biopsy(self) -> datetime:
        return self._day_after_retrieval(5, "biopsy")

    @_fact
    def thaw(self) -> datetime:
        bits = self.bits("thaw")
        return _at(self.transfer.date() + timedelta(days=bits.between(30, 240)), bits, 7, 10)

    @_fact
    def followup(self) -> date:
        return self.transfer.date() + timedelta(days=self.bits("followup").between(28, 35))

    @_fact
    def cancelled(self) -> datetime | None:
        bits = self.bits("cancelled")
        if not bits.chance(8):
            return None
        return _at(self.cycle_start.date() + timedelta(days=bits.between(3, 10)), bits, 8, 17)

    @_fact
    def outcome(self) -> Literal["birth", "abortion", "stillbirth"]:
        roll = self.bits("outcome").below(100)
        return "abortion" if roll < 12 else "stillbirth" if roll < 14 else "birth"

    @_fact
    def babies(self) -> int:
        roll = self.bits("babies").below(100)
        return 1 if roll < 72 else 2 if roll < 98 else 3

    def gestation(self, days_after_transfer: int) -> int:
        # Pregnancy is counted from the last period, two weeks before fertilisation.
        return days_after_transfer + 14 + self.embryo_day

    @_fact
    def birth(self) -> datetime:
        bits = self.bits("birth")
        weeks = bits.between(37, 40) if self.babies == 1 else bits.between(33, 37)
        days = weeks * 7 + bits.below(7) - 14 - self.embryo_day
        return _at(self.transfer.date() + timedelta(days=days), bits, 0, 23)

    @_fact
    def gestation_days(self) -> int:
        return self.gestation((self.birth.date() - self.transfer.date()).days)

    @_fact
    def abortion(self) -> date:
        return self.transfer.date() + timedelta(days=self.bits("abortion").between(30, 70))

    @_fact
    def stillbirth(self) -> datetime:
        bits = self.bits("stillbirth")
        return _at(self.transfer.date() + timedelta(days=bits.between(120, 200)), bits, 0, 23)

    @_fact
    def thawed(self) -> int:
        return self.bits("thawed").between(1, 3)

    @_fact
    def semen_qualified(self) -> bool:
        return self.bits("qualified").chance(85)

    @_fact
    def motile_before(self) -> float:
        return self.bits("motile").between(100, 3000) / 10

    @_fact
    def embryo_assessment(self) -> datetime:
        return self.retrieval + timedelta(days=self.embryo_day)

    @_fact
    def followup_call(self) -> datetime:
        return datetime.combine(self.followup, self.transfer.time())

    def event(self, record_type: str) -> datetime:
        """The moment a record of ``record_type`` describes; its entry time follows it."""
        return getattr(self, _EVENTS.get(record_type, "cycle_start"))


_EVENTS: Mapping[str, str] = {
    "information": "registered",
    "ovum": "retrieval",
    "ejaculation": "retrieval",
    "eresult": "embryo_assessment",
    "insemination": "insemination",
    "freeze": "freeze",
    "thaw": "thaw",
    "thawdet": "thaw",
    "biopsy": "biopsy",
    "transplant": "transfer",
    "result": "followup_call",
    "childbirth": "birth",
}


# --------------------------------------------------------------------------------------------
# How each field is filled

Generator = Callable[[random.Random, _Case], Any]


def _int(rng: random.Random, low: int, high: int) -> int:
    # random.randint is ~3× slower; this is the inner loop of a 1M-row benchmark file.
    return low + int(rng.random() * (high - low + 1))


def _one_of(*choices: Any) -> Generator:
    return lambda rng, _case: choices[int(rng.random() * len(choices))]


def _count(low: int, high: int) -> Generator:
    return lambda rng, _case: _int(rng, low, high)


def _yes_mostly_no(percent_yes: int) -> Generator:
    return lambda rng, _case: 1 if rng.random() * 100 < percent_yes else 2


def _rarely(percent: int, *choices: str) -> Generator:
    """Free text that is mostly ``无`` (none), as clerks type it."""
    return lambda rng, _case: (
        choices[int(rng.random() * len(choices))] if rng.random() * 100 < percent else "无"
    )


def _kg(low: float, high: float) -> Generator:
    return lambda rng, _case: round(low + rng.random() * (high - low), 2)


def _when(condition: Callable[[_Case], bool], generator: Generator) -> Generator:
    return lambda rng, case: generator(rng, case) if condition(case) else None


def _newborn(k: int, generator: Generator) -> Generator:
    return _when(lambda case: case.babies >= k, generator)


def _deformed(case: _Case) -> bool:
    return case.bits("deformity").chance(3)


_CLEAVAGE_GRADES = ("8CI", "8CII", "7CII", "6CII", "9CII", "8CIII")
_BLASTOCYST_GRADES = ("4AA", "4AB", "4BA", "4BB", "5AA", "5AB", "3BB", "3BC")  # Gardner


def _score(rng: random.Random, case: _Case) -> str:
    grades = _CLEAVAGE_GRADES if case.embryo_day == 3 else _BLASTOCYST_GRADES
    return grades[int(rng.random() * len(grades))]


def _entry_time(type_name: str) -> Generator:
    # Records are keyed in half an hour to eight hours after the event, or a day or two later.
    def generate(rng: random.Random, case: _Case) -> datetime:
        delay = _int(rng, 1800, 8 * 3600) + 86400 * (0 if rng.random() < 0.7 else _int(rng, 1, 2))
        return case.event(type_name) + timedelta(seconds=delay)

    return generate


def _transferred(kind: Literal["embryo", "blastocyst"]) -> Generator:
    # Day-3 transfers move cleavage embryos, day-5 transfers blastocysts: one or two in all.
    def generate(rng: random.Random, case: _Case) -> int:
        matches = (case.embryo_day == 3) == (kind == "embryo")
        return (1 if rng.random() < 0.7 else 2) if matches else 0

    return generate


# Field-specific rules, "type.field" before "field". What is not here follows the field's type,
# label and dictionary flag (see _generic).
_RULES: Mapping[str, Generator] = {
    # information / cycle
    "medicalid": lambda _rng, case: case.medical_record,
    "medrecNo": lambda _rng, case: case.medical_record,
    "fileNo": lambda _rng, case: f"DA{case.n:07d}",
    "cycleno": lambda _rng, case: f"{case.cycle_start:%Y}{case.n:06d}",
    "cycledate": lambda _rng, case: case.cycle_start,
    "startDate": lambda _rng, case: case.stimulation_start,
    "triggerdate": lambda _rng, case: case.trigger,
    "canceldate": lambda _rng, case: case.cancelled,
    "cycle.cancelcause": _when(lambda case: case.cancelled is not None, _count(1, 6)),
    "cycle.cancelperiod": _when(lambda case: case.cancelled is not None, _count(1, 6)),
    "artplan": _one_of("IVF", "ICSI", "IVF/ICSI", "PGT", "FET", "AIH"),
    "ppap": _one_of("IVF-ET", "ICSI-ET", "FET", "PGT-A", "AIH"),
    "acyesisname": _one_of(
        "输卵管因素",
        "排卵障碍",
        "子宫内膜异位症",
        "男方因素",
        "不明原因",
        "卵巢储备功能减退",
    ),
    "acyesisnameMx": _one_of(
        "双侧输卵管阻塞",
        "输卵管积水",
        "多囊卵巢综合征",
        "少弱精子症",
        "盆腔粘连",
        "AMH低",
    ),
    "complication1": _rarely(2, "盆腔感染"),
    "complication2": _rarely(2, "腹腔内出血"),
    "complication3": _rarely(5, "轻度OHSS", "中度OHSS"),
    "complication4": _rarely(1, "卵巢扭转"),
    "complication5": _rarely(1, "黄体破裂"),
    "complication6": _rarely(2, "麻醉反应"),
    "ordernumber": _one_of(1, 1, 1, 2, 2, 3, 4),
    "wInfertilityyear": lambda rng, _case: _int(rng, 2, 20) / 2,
    "wage": lambda _rng, case: _age(case.woman_birth, case.cycle_start.date()),
    "mage": lambda _rng, case: _age(case.man_birth, case.cycle_start.date()),
    # events of the cycle
    "ovumdate": lambda _rng, case: case.retrieval,
    "ovum.ovumnum": _count(0, 20),
    "follicleNum": _count(1, 20),
    "ejaculationdate": lambda _rng, case: case.retrieval - timedelta(minutes=90),
    "tmsbt": lambda _rng, case: case.motile_before,
    "tmsbtfd": lambda _rng, case: round(case.motile_before * 0.8, 1),
    "tmsat": lambda _rng, case: round(case.motile_before * 0.45, 1),
    "tmsatfd": lambda _rng, case: round(case.motile_before * 0.4, 1),
    "operationdate": lambda _rng, case: case.insemination,
    "eresult.ovumnum": _count(0, 3),
    "eresult.multipnnumber": _count(0, 3),
    "freezedate": lambda _rng, case: case.freeze,
    "freezeage": lambda _rng, case: case.embryo_day,
    "freezenum": _count(1, 8),
    "thawdate": lambda _rng, case: case.thaw,
    "tharnum": lambda _rng, case: case.thawed,
    "thawage": lambda _rng, case: f"D{case.embryo_day}",
    "thawscore": _score,
    "biopsydate": lambda _rng, case: case.biopsy,
    "biopsyresult": _one_of("未见异常", "46,XX", "46,XY", "染色体非整倍体", "嵌合体"),
    "pdiagnosisresult": _one_of("未见异常", "未做"),
    "transplantdate": lambda _rng, case: case.transfer,
    "transplantage": lambda _rng, case: case.embryo_day,
    "transplant.blastulanum": _transferred("blastocyst"),
    "transplant.embryonum": _transferred("embryo"),
    "transplantscore": _score,
    "spermdonation": _yes_mostly_no(5),
    # treatment result: every case has a birth record too, so every transfer took
    "followupdate": lambda _rng, case: case.followup,
    "hcgpositive": lambda _rng, _case: 1,
    "biochemical_p": lambda _rng, _case: 2,
    "clinicalP": lambda _rng, _case: 1,
    "ultrasound": lambda _rng, _case: 1,
    "pregnancy": lambda _rng, _case: 1,
    "abortiondate": _when(lambda case: case.outcome == "abortion", lambda _r, case: case.abortion),
    "abortionweek": _when(
        lambda case: case.outcome == "abortion",
        lambda _r, case: case.gestation((case.abortion - case.transfer.date()).days) // 7,
    ),
    "stillbirth": lambda _rng, case: 1 if case.outcome == "stillbirth" else 2,
    "stillbirthdate": _when(
        lambda case: case.outcome == "stillbirth", lambda _r, case: case.stillbirth
    ),
    "stillbirthweek": _when(
        lambda case: case.outcome == "stillbirth",
        lambda _r, case: case.gestation((case.stillbirth - case.transfer).days) // 7,
    ),
    "odinopoeia": _when(lambda case: case.outcome == "stillbirth", _one_of("胎儿畸形", "胎死宫内")),
    "ultrasoundnum": lambda _rng, case: case.babies,
    "retainnum": lambda _rng, case: case.babies,
    "pregnancyred": _yes_mostly_no(3),
    "reducenum": _when(lambda case: case.babies == 3, _count(1, 2)),
    "reducetype": _when(lambda case: case.babies == 3, _count(1, 6)),
    # childbirth
    "childbirthdate": lambda _rng, case: case.birth,
    "childbirthnum": lambda _rng, case: case.babies,
    "week": lambda _rng, case: case.gestation_days // 7,
    "pregnancyDays": lambda _rng, case: case.gestation_days % 7,
    "newbornAdress": _one_of(*_HOSPITALS),
    **{
        f"{what}{k}{suffix}": _newborn(k, generate)
        for k in (1, 2, 3)
        for what, suffix, generate in (
            ("newborn", "Death", _yes_mostly_no(1)),
            ("newborn", "Sex", _one_of(1, 2)),
            ("newborn", "Weight", _kg(2.5, 4.2) if k == 1 else _kg(1.8, 3.4)),
            ("newborn", "Legth", lambda rng, _case: round(_int(rng, 440, 540) / 10, 1)),
            ("deformity", "Type", _when(_deformed, _count(1, 6))),
        )
    },
    # sperm bank donors and self-storage
    "orgname": _one_of("浙江省人类精子库"),
    "isqualified": lambda _rng, case: 1 if case.semen_qualified else 2,
    "unqualifiedReason": _when(
        lambda case: not case.semen_qualified, _one_of("精液质量不达标", "传染病筛查阳性")
    ),
    "reviewResult": lambda _rng, case: 1 if case.semen_qualified else 2,
    "reviewUnqualifiedReason": _when(
        lambda case: not case.semen_qualified, _one_of("HIV复查未完成", "复查精液质量下降")
    ),
    "frozensemenNum": _count(5, 20),
    "frozenNum": _count(3, 10),
    "suppplytimes": _count(1, 5),
    "preFreeMeanDensity": _count(60, 150),
    "preFreeMeanVigour": _count(60, 85),
    "postFreeMeanVigour": _count(30, 60),
    "postFreeMeanFrontNum": _count(10, 60),
    "spermUseunit": _one_of(*(f"{h}生殖中心" for h in _HOSPITALS[:6])),
    "healthReason": _one_of("睾丸肿瘤放化疗前", "淋巴瘤化疗前", "无"),
    "jobReason": _one_of("高温作业", "放射性工作", "无"),
    "otherReason": _one_of("延迟生育", "无"),
    "isfreeeze": lambda _rng, case: 1 if case.semen_qualified else 2,
    "unfreezeReason": _when(
        lambda case: not case.semen_qualified, _one_of("精液无精子", "本人放弃")
    ),
    "savereason": _count(1, 3),
    "spermuseplace": _count(1, 3),
    "spermUsemode": _count(1, 3),
    "spermuserPregnancyOutcome": _count(1, 6),
    **{
        f"{what}{suffix}": _newborn(k, generate)
        for k, suffix in ((1, ""), (2, "2"), (3, "3"))
        for what, generate in (
            ("filialSex", _one_of(1, 2)),
            ("filialWeight", _kg(2.5, 4.2)),
            ("filialBirthdefect", _rarely(2, "先天性心脏病", "唇腭裂")),
            ("filialDevelopment", _one_of("良好", "正常")),
        )
    },
}


def _person_of(record_type: RecordType, field: Field) -> Callable[[_Case], _Person]:
    if field.label.startswith("男方"):
        return lambda case: case.man
    if field.label.startswith("女方"):
        return lambda case: case.woman
    # A record about one man (self-semen storage, a donor) has no 男方/女方 prefix.
    return lambda case: case.client


def _staff_pairs(record_type: RecordType) -> dict[str, tuple[str, str]]:
    """``opertioncode`` and ``opertionname`` → ("opertion", "code" / "name"): a person's code and
    name, drawn together so that the two columns name the same member of staff."""
    pairs: dict[str, tuple[str, str]] = {}
    for field in record_type.fields:
        if field.name.endswith("code") and field.type == "string":
            stem = field.name[: -len("code")]
            if record_type.has_field(stem + "name"):
                pairs[field.name] = (stem, "code")
                pairs[stem + "name"] = (stem, "name")
    return pairs


@cache
def _staff(seed: int) -> tuple[tuple[str, str], ...]:
    rng = random.Random(f"staff:{seed}")
    members = []
    for _ in range(40):
        given = _MALE_GIVEN if rng.random() < 0.4 else _FEMALE_GIVEN
        # Half the hospitals use letters, half zero-padded numbers (which spreadsheets eat).
        code = f"YS{_int(rng, 1000, 9999)}" if rng.random() < 0.5 else f"{_int(rng, 1, 9999):06d}"
        members.append((code, rng.choice(_SURNAMES) + rng.choice(given)))
    return tuple(members)


def _staff_member(stem: str, part: str, seed: int) -> Generator:
    staff = _staff(seed)
    index = 0 if part == "code" else 1
    return lambda _rng, case: staff[case.bits("staff-" + stem).below(len(staff))][index]


def _phone(rng: random.Random, _case: _Case) -> str:
    prefix = _MOBILE_PREFIXES[int(rng.random() * len(_MOBILE_PREFIXES))]
    return f"{prefix}{_int(rng, 0, 10**8 - 1):08d}"


def _generic(record_type: RecordType, field: Field) -> Generator:
    label = field.label
    if field.type in ("date", "datetime"):
        event = _entry_time(record_type.name)
        if field.type == "date":
            return lambda rng, case: event(rng, case).date()
        return event
    if field.type == "integer":
        if "证件类型" in label:
            return lambda _rng, _case: 1  # resident identity card
        if field.dict:
            return _count(1, 6)
        if "1是2否" in label or "是否" in label:
            return _yes_mostly_no(20)
        if field.codes:
            return _one_of(*(code for code, _label in field.codes))
        if "性别" in label:
            return _one_of(1, 2)
        if "年龄" in label:
            return _count(20, 45)
        return _count(0, 20)
    if field.type == "number":
        return lambda rng, _case: round(rng.random() * 20, 1)
    if field.pii == "phone" or "电话" in label or "手机" in label:
        return _phone
    return lambda _rng, _case: "无"


def _generator(
    record_type: RecordType, field: Field, orgid: str, seed: int, keys: Mapping[str, str]
) -> tuple[Generator, float]:
    """How to fill ``field``, and how often (required fields and patients' names always)."""
    fill = 1.0 if field.required else OPTIONAL_FILL
    name = field.name
    if name == "orgid":
        return (lambda _rng, _case: orgid), fill
    if field.pii == "idcard":
        person = _person_of(record_type, field)
        return (lambda _rng, case: person(case).idcode), fill
    if name in keys:
        prefix = keys[name]
        return (lambda _rng, case: f"{prefix}{case.n:08d}"), fill
    rule = _RULES.get(f"{record_type.name}.{name}") or _RULES.get(name)
    if rule is not None:
        return rule, fill
    staff = _staff_pairs(record_type).get(name)
    if staff is not None:
        return _staff_member(*staff, seed), fill
    if field.pii == "name":
        person = _person_of(record_type, field)
        # Patients' names are always there: the platform refuses a couple with neither.
        return (lambda _rng, case: person(case).name), 1.0
    if field.pii == "address":
        person = _person_of(record_type, field)
        if "户籍" in field.label:
            return (lambda _rng, case: person(case).household_address), fill
        return (lambda _rng, case: person(case).current_address), fill
    if field.type == "date" and "出生" in field.label:
        person = _person_of(record_type, field)
        return (lambda _rng, case: person(case).birth), fill
    return _generic(record_type, field), fill


def _key_prefixes(record_type: RecordType) -> dict[str, str]:
    """Primary-key field name → ID prefix, for every type keyed by a generated ID: a field
    of that name in any type (``cycleid`` in an ovum record) refers to the same case's record."""
    prefixes: dict[str, str] = {}
    for keyed in (*load_schema(), record_type):
        key = keyed.field(keyed.primary_key)
        if key.pii != "idcard":
            prefixes[key.name] = ID_PREFIXES.get(keyed.name, keyed.name[:3].upper())
    return prefixes


def fake_rows(
    record_type: RecordType,
    count: int,
    *,
    seed: int = 0,
    orgid: str = DEFAULT_ORGID,
    start: int = 1,
) -> Iterator[dict[str, Any]]:
    """``count`` valid rows of ``record_type`` for cases ``start`` … ``start + count - 1``,
    keyed by API field name; the same arguments always give the same rows."""
    keys = _key_prefixes(record_type)
    plan = [(f.name, *_generator(record_type, f, orgid, seed, keys)) for f in record_type.fields]
    # The platform refuses a row that fills none of a group (information: fName / wName).
    always = {group[0] for group in record_type.one_of_required}
    plan = [(name, gen, 1.0 if name in always else fill) for name, gen, fill in plan]
    rng = random.Random(f"{seed}:{record_type.name}:{start}")
    for n in range(start, start + count):
        case = _Case(seed, n)
        row: dict[str, Any] = {}
        for name, generate, fill in plan:
            if fill < 1.0 and rng.random() >= fill:
                continue
            value = generate(rng, case)
            if value is not None:
                row[name] = value
        yield row


# --------------------------------------------------------------------------------------------
# Writing files


def headers_for(record_type: RecordType, headers: HeaderStyle = "label") -> list[str]:
    """Column headers for every field of ``record_type``, in schema order.

    ``label`` writes what hospital exports show: the short Chinese label (``不孕原因类别``, not
    ``不孕原因类别(字典项)``) when it names the field unambiguously, else the full label, else —
    when two fields share a label — the API name.
    """
    if headers == "name":
        return [f.name for f in record_type.fields]
    if headers != "label":
        raise ValueError(f"headers must be 'label' or 'name', not {headers!r}")
    chosen = []
    for field in record_type.fields:
        for text in (field.short_label, field.label, field.name):
            if text and record_type.match_header(text) is field:
                chosen.append(text)
                break
    return chosen


def _text(value: Any) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is datetime:
        return value.isoformat(" ", "seconds")
    if kind is date:
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    return _text(value) if isinstance(value, date) else value


def _write_csv(
    path: Path,
    names: list[str],
    header: list[str],
    rows: Iterable[Mapping[str, Any]],
    encoding: str,
) -> int:
    count = 0
    # csv's default line end is CRLF, which is what Excel writes too.
    with path.open("w", encoding=encoding, newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            # csv writes None as "" and str() of the rest: whole-second date-times and dates
            # print as yyyy-MM-dd HH:mm:ss and yyyy-MM-dd, so no per-cell conversion is needed.
            writer.writerow([row.get(name) for name in names])
            count += 1
    return count


def _write_xlsx(
    path: Path,
    record_type: RecordType,
    names: list[str],
    header: list[str],
    rows: Iterable[Mapping[str, Any]],
) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(record_type.label[:31])
    # Without widths a spreadsheet shows dates as ######.
    for index, field in enumerate(record_type.fields, 1):
        width = {"datetime": 20, "date": 12}.get(field.type, max(10, 2 * len(header[index - 1])))
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 40)
    sheet.append(header)
    formats = {datetime: DATETIME_FORMAT, date: DATE_FORMAT}
    count = 0
    for row in rows:
        cells: list[Any] = []
        for name in names:
            value = row.get(name)
            number_format = formats.get(type(value))
            if number_format is not None:
                cell = WriteOnlyCell(sheet, value)
                cell.number_format = number_format
                value = cell
            cells.append(value)
        sheet.append(cells)
        count += 1
    workbook.save(path)
    return count


def _write_json(
    path: Path,
    names: list[str],
    header: list[str],
    rows: Iterable[Mapping[str, Any]],
    encoding: str,
    lines: bool,
) -> int:
    count = 0
    with path.open("w", encoding=encoding, newline="\n") as stream:
        if not lines:
            stream.write("[")
        for row in rows:
            record = {
                key: _json_value(row[name])
                for name, key in zip(names, header, strict=True)
                if name in row
            }
            text = json.dumps(record, ensure_ascii=False)
            if lines:
                stream.write(text + "\n")
            else:
                stream.write(("\n" if count == 0 else ",\n") + text)
            count += 1
        if not lines:
            stream.write("\n]\n")
    return count


def write_rows(
    path: str | Path,
    record_type: RecordType,
    rows: Iterable[Mapping[str, Any]],
    *,
    headers: HeaderStyle = "label",
    encoding: str = "utf-8",
) -> int:
    """Write ``rows`` (keyed by API name) as an export of ``record_type``; returns the row count.

    The format follows the extension: ``.csv`` (``encoding`` as given — ``gb18030`` is what
    Chinese Excel's "Save as CSV" writes, ``utf-8-sig`` adds a BOM — with CRLF line ends),
    ``.xlsx`` (date and date-time cells formatted ``yyyy-mm-dd`` / ``yyyy-mm-dd hh:mm:ss``,
    strings such as IDs as text cells), ``.json`` (an array) or ``.jsonl`` (one object a line),
    whose dates are ``yyyy-MM-dd[ HH:mm:ss]`` strings. Every field of the type gets a column;
    a key that is not a field of the type is not written. Any value may stand in any column,
    so that files with deliberate mistakes (``abc`` in an integer column) can be written too.
    """
    path = Path(path)
    names = [f.name for f in record_type.fields]
    header = headers_for(record_type, headers)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _write_csv(path, names, header, rows, encoding)
    if suffix == ".xlsx":
        return _write_xlsx(path, record_type, names, header, rows)
    if suffix in (".json", ".jsonl"):
        return _write_json(path, names, header, rows, encoding, lines=suffix == ".jsonl")
    raise ValueError(f"cannot write {path.name}: use .csv, .xlsx, .json or .jsonl")
