"""Deterministic, realistic sample data for Haixi (海西州): customers, hazards, county registers and
a recipient directory.

Used by demos, tests and benchmarks. Everything is derived from seeded `random.Random` streams, so
the same arguments always give the same data:

* `sample_customers(counties)` — about 30 high-risk/important customers (salt-lake potash and lithium
  plants at 察尔汗, soda-ash plants at 德令哈, coal mines at 木里, oilfield operations at 花土沟, PV
  parks, hospitals, water works ...). Customers of counties missing from the built-in catalogue are
  generated generically, so any county list from the settings works.
* `sample_hazards(as_of, counties)` — about 150 hazards found in the ~10 months before `as_of`. Each
  hazard has a fixed life story (notice, deadline, start and end of remediation) drawn independently
  of `as_of`; the status is that story read at `as_of`. Pass the same `since` with a later `as_of`
  to get the next month's re-submission: earlier hazards keep their id, found date and text, their
  statuses move on, and new hazards are appended.
* `write_register(...)` — one county register .xlsx as county staff really produce it
  (styles "canonical", "variant", "no_hazard_id"); every style holds valid data.
* `write_directory(...)` — a sample 通讯录.xlsx.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_col_to_name

from hazardnet import rules
from hazardnet.xlsx.style import FONT, Formats, atomic_workbook, setup_print, write_cell
from schemas.directory_headers import DIRECTORY_HEADERS
from schemas.headers import FIELDS
from schemas.vocab import (
    PARTY_CUSTOMER,
    PARTY_GOV,
    PARTY_UTILITY,
    PREFECTURE,
    STATUS_DONE,
    WHOLE_PREFECTURE,
)

REGISTER_STYLES: tuple[str, ...] = ("canonical", "variant", "no_hazard_id")
DEFAULT_SEED = 2026
DEFAULT_WINDOW_DAYS = 300  # hazards are found in the ~10 months before as_of

# ---------------------------------------------------------------------------------------------
# The hazard record
# ---------------------------------------------------------------------------------------------


@dataclass
class SampleHazard:
    """One register row; attribute names are exactly the field names of `schemas.headers.FIELDS`."""

    county: str
    customer_id: str
    customer_name: str
    customer_grade: str
    industry: str
    hazard_id: str
    found_date: dt.date
    description: str
    category: str
    severity: str
    consequence: str | None
    suggestion: str | None
    notice_date: dt.date | None
    deadline: dt.date | None
    owner: str | None
    funds: float | None
    contingency: str | None
    status: str
    completed_date: dt.date | None
    gov_supervised: str | None
    reinspect_date: dt.date | None = None  # 复查: the sample registers carry none (every 已整改 is 待复查)
    reinspector: str | None = None
    reinspect_result: str | None = None
    signed_by: str | None = None
    remarks: str | None = None
    extension_reason: str | None = None
    extension_approval: str | None = None
    supervisor: str | None = None
    supervised_date: dt.date | None = None
    supervision_deadline: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        """Field name -> value, in FIELDS order."""
        return {f.name: getattr(self, f.name) for f in FIELDS}

    def is_overdue(self, as_of: dt.date) -> bool:
        """Overdue on `as_of` by the one rule every output uses (hazardnet.rules.is_overdue)."""
        return rules.is_overdue(self.status, self.deadline, as_of, rules.reopened_on(self.as_dict(), as_of))


# ---------------------------------------------------------------------------------------------
# Counties and customers
# ---------------------------------------------------------------------------------------------

# Short ASCII codes used in hazard ids ("GEM-2026-017") and in e-mail domains.
COUNTY_CODES: dict[str, str] = {
    "德令哈市": "DLH",
    "格尔木市": "GEM",
    "茫崖市": "MGY",
    "乌兰县": "WLX",
    "都兰县": "DLX",
    "天峻县": "TJX",
    "大柴旦行政区": "DCD",
}

# One digit per county inside the 10-digit 户号.
_ACCOUNT_DIGIT: dict[str, str] = {
    "格尔木市": "1", "德令哈市": "2", "茫崖市": "3", "乌兰县": "4", "都兰县": "5", "天峻县": "6",
    "大柴旦行政区": "7",
}

_SUBSTATIONS: dict[str, tuple[str, ...]] = {
    "格尔木市": ("察尔汗330kV变电站", "格尔木110kV东郊变电站", "格尔木110kV昆仑变电站", "格尔木110kV藏青变电站"),
    "德令哈市": ("德令哈330kV变电站", "德令哈110kV尕海变电站", "德令哈110kV柯鲁柯变电站"),
    "茫崖市": ("花土沟110kV变电站", "茫崖110kV老茫崖变电站"),
    "乌兰县": ("乌兰110kV变电站", "乌兰110kV柯柯变电站"),
    "都兰县": ("都兰110kV变电站", "香日德110kV变电站", "诺木洪110kV变电站"),
    "天峻县": ("天峻110kV变电站", "木里110kV江仓变电站"),
    "大柴旦行政区": ("大柴旦110kV变电站", "锡铁山110kV变电站"),
}


@dataclass(frozen=True)
class _Customer:
    county: str
    name: str
    grade: str
    industry: str
    slug: str  # ASCII part of the customer's e-mail domain
    line: str  # the customer's supply line, used in hazard texts


# (name, grade, industry, e-mail slug, supply line). Names are invented; any likeness is unintended.
_CATALOGUE: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "格尔木市": (
        ("察尔汗盐湖钾肥化工有限公司", "一级", "危险化学品", "qarhan-potash", "35kV察钾Ⅰ回线"),
        ("格尔木锂源新材料科技有限公司", "二级", "危险化学品", "gem-lithium", "35kV藏锂线"),
        ("格尔木昆仑金属镁有限公司", "一级", "冶金", "kunlun-mg", "110kV昆镁线"),
        ("格尔木昆仑石化炼油有限公司", "一级", "石油化工", "kunlun-refinery", "35kV炼油Ⅱ回线"),
        ("格尔木东郊光伏发电运维有限公司", "一般", "新能源", "gem-pv", "35kV东光线"),
        ("格尔木市人民医院", "二级", "医疗", "gem-hospital", "10kV医院专线"),
        ("格尔木市自来水有限公司", "二级", "供水", "gem-water", "10kV水厂线"),
        ("格尔木野马泉多金属矿业有限公司", "二级", "非煤矿山", "yemaquan-mining", "35kV野马泉线"),
    ),
    "德令哈市": (
        ("柴达木纯碱化工有限公司", "一级", "危险化学品", "qaidam-soda", "110kV碱业Ⅰ回线"),
        ("德令哈昆仑碱业有限公司", "二级", "危险化学品", "dlh-sodaash", "35kV昆碱线"),
        ("德令哈工业园氯碱化工有限公司", "二级", "危险化学品", "dlh-chloralkali", "35kV氯碱线"),
        ("海西州人民医院", "一级", "医疗", "hx-hospital", "10kV州医院Ⅰ回线"),
        ("德令哈市供排水有限公司", "二级", "供水", "dlh-water", "10kV供水线"),
        ("德令哈光伏产业园运维有限公司", "一般", "新能源", "dlh-pv", "35kV光园线"),
    ),
    "茫崖市": (
        ("花土沟油田采油作业区", "一级", "石油化工", "htg-oilfield", "35kV花采线"),
        ("花土沟原油集输联合站", "二级", "石油化工", "htg-gathering", "10kV集输线"),
        ("茫崖尕斯库勒多金属矿业有限公司", "二级", "非煤矿山", "gaskule-mining", "35kV尕矿线"),
        ("茫崖大浪滩钾盐开发有限公司", "二级", "危险化学品", "dalangtan-potash", "35kV大浪滩线"),
        ("茫崖市人民医院", "二级", "医疗", "mgy-hospital", "10kV茫医线"),
    ),
    "乌兰县": (
        ("乌兰柯柯盐化有限公司", "二级", "危险化学品", "keke-salt", "35kV柯盐线"),
        ("乌兰县金鑫铅锌矿业有限公司", "二级", "非煤矿山", "wlx-leadzinc", "35kV铅锌线"),
        ("乌兰县人民医院", "二级", "医疗", "wlx-hospital", "10kV乌医线"),
        ("乌兰县城镇供水有限公司", "一般", "供水", "wlx-water", "10kV乌水线"),
    ),
    "都兰县": (
        ("都兰县五龙沟金矿有限公司", "二级", "非煤矿山", "wulonggou-gold", "35kV五龙沟线"),
        ("都兰县沟里铜钼矿业有限公司", "二级", "非煤矿山", "gouli-mining", "35kV沟里线"),
        ("都兰县人民医院", "二级", "医疗", "dlx-hospital", "10kV都医线"),
        ("都兰县香日德镇自来水厂", "一般", "供水", "xrd-water", "10kV香水线"),
        ("诺木洪光伏项目施工临时用电", "临时性", "新能源", "nmh-pv-build", "10kV诺光临时线"),
    ),
    "天峻县": (
        ("天峻木里聚乎更煤业有限公司", "一级", "煤矿", "juhugeng-coal", "35kV聚煤Ⅰ回线"),
        ("天峻木里江仓煤矿有限公司", "一级", "煤矿", "jiangcang-coal", "35kV江煤线"),
        ("天峻县人民医院", "二级", "医疗", "tjx-hospital", "10kV天医线"),
        ("天峻县城镇供水站", "一般", "供水", "tjx-water", "10kV天水线"),
    ),
    "大柴旦行政区": (
        ("锡铁山铅锌矿业有限公司", "一级", "非煤矿山", "xitieshan-mining", "35kV锡矿线"),
        ("大柴旦硼酸化工有限公司", "二级", "危险化学品", "dcd-boron", "35kV硼化线"),
        ("大柴旦行政区医院", "二级", "医疗", "dcd-hospital", "10kV柴医线"),
    ),
}

# Customers of a county that is not in the catalogue: (suffix, grade, industry, slug part, line part).
_GENERIC_CUSTOMERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("工业园化工有限公司", "二级", "危险化学品", "chem", "化工线"),
    ("人民医院", "二级", "医疗", "hospital", "医院专线"),
    ("城镇供水有限公司", "一般", "供水", "water", "水厂线"),
    ("光伏电站运维有限公司", "一般", "新能源", "pv", "光伏线"),
)


def county_code(county: str) -> str:
    """The ASCII code of a county used in hazard ids; unknown counties get a stable hashed code."""
    if county in COUNTY_CODES:
        return COUNTY_CODES[county]
    digest = hashlib.sha256(county.encode("utf-8")).hexdigest().upper()
    return "X" + digest[:2]


def _customers_of(county: str) -> list[_Customer]:
    rows = _CATALOGUE.get(county)
    if rows is None:
        code = county_code(county).lower()
        rows = tuple((county + suffix, grade, industry, f"{code}-{slug}", f"10kV{county[:2]}{line}")
                     for suffix, grade, industry, slug, line in _GENERIC_CUSTOMERS)
    return [_Customer(county, *row) for row in rows]


def _customer_id(county: str, name: str, taken: set[str], old_account: bool) -> str:
    """A stable 10-digit 户号: old accounts start with 09 (leading zero), newer ones with 63."""
    rng = random.Random(f"account|{county}|{name}")
    digit = _ACCOUNT_DIGIT.get(county, str(int(hashlib.sha256(county.encode()).hexdigest(), 16) % 2 + 8))
    prefix = "09" if old_account else "63"
    while True:
        cid = prefix + digit + "".join(str(rng.randrange(10)) for _ in range(7))
        if cid not in taken:
            taken.add(cid)
            return cid


def _catalogue(counties: Iterable[str]) -> list[tuple[_Customer, str]]:
    taken: set[str] = set()
    out: list[tuple[_Customer, str]] = []
    for county in counties:
        for i, cust in enumerate(_customers_of(county)):
            # every county has both old accounts (leading zero) and newer ones
            out.append((cust, _customer_id(county, cust.name, taken, old_account=i % 2 == 1)))
    return out


def sample_customers(counties: Sequence[str]) -> list[dict[str, str]]:
    """About 30 high-risk/important customers over `counties` (deterministic)."""
    return [
        {"customer_id": cid, "customer_name": c.name, "customer_grade": c.grade, "industry": c.industry,
         "county": c.county}
        for c, cid in _catalogue(counties)
    ]


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨赵马韩祁鲁冶孙朱胡郭何高罗周吴徐魏汪贾谢"
_GIVEN = ("建国", "海军", "永福", "晓东", "志强", "国庆", "文斌", "春梅", "玉兰", "海燕", "小军", "德明",
          "生福", "成林", "红霞", "占魁", "明辉", "晓鹏", "正云", "秀英", "发财", "有才", "学军", "卫东",
          "国栋", "丽娟", "宏伟", "少华", "长青", "永刚")
_FULL_NAMES = ("才让多杰", "索南扎西", "卓玛措", "扎西才让", "桑杰加", "巴特尔", "那仁", "格日勒图",
               "斯琴", "乌力吉")


def _person(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(_FULL_NAMES)
    return rng.choice(_SURNAMES) + rng.choice(_GIVEN)


def _named_person(key: str) -> str:
    """A stable person name for an organisation key (customer id, county ...)."""
    return _person(random.Random(f"person|{key}"))


def _mobile(key: str) -> str:
    rng = random.Random(f"mobile|{key}")
    return rng.choice(("139", "138", "137", "136", "135", "150", "151", "158", "180", "189", "177")) + "".join(
        str(rng.randrange(10)) for _ in range(8))


# ---------------------------------------------------------------------------------------------
# Hazard templates
# ---------------------------------------------------------------------------------------------

IMPORTANT_GRADES = ("特级", "一级", "二级")
_ANY = None


@dataclass(frozen=True)
class _Tpl:
    category: str
    severities: tuple[str, ...]  # severities this kind of hazard plausibly carries
    industries: tuple[str, ...] | None  # None: any industry
    description: str
    consequence: str
    suggestion: str
    contingency: str
    funds: tuple[float, float] | None  # 万元; None: needs no money (left blank or 0)
    important_only: bool = False
    exclude: tuple[str, ...] = ()


_LOADS: dict[str, str] = {
    "煤矿": "主通风机、主排水泵等保安负荷",
    "非煤矿山": "提升机、主排水泵等保安负荷",
    "危险化学品": "反应釜搅拌、冷却循环等关键工艺设备",
    "石油化工": "输油泵、加热炉等关键设备",
    "冶金": "电解槽、熔炼炉等关键设备",
    "医疗": "手术室、ICU等生命支持设备",
    "供水": "取水泵站及加压泵站",
    "新能源": "站用电及监控系统",
    "其他": "重要负荷",
}
_AREAS: dict[str, tuple[str, ...]] = {
    "煤矿": ("井下采区", "井下中央变电所", "综采工作面"),
    "危险化学品": ("罐区", "合成车间", "装卸站台"),
    "石油化工": ("计量间", "原油罐区", "装车栈桥"),
}
_UNITS = ("碳化", "浮选", "沉锂", "煅烧", "蒸氨", "电解")
_ROOMS = ("1号配电室", "2号配电室", "总降压站", "10kV高压配电室", "主控楼配电室", "水泵房配电室")
_TRANSFORMERS = ("1号主变压器", "2号主变压器", "3号配电变压器", "站用变压器")
_OBSTACLES = ("违章搭建的彩钢板房", "堆放的建筑材料和塑料薄膜", "新栽植的防风林", "大型机械作业场地")
_FLOATERS = ("未加固的彩钢瓦屋面", "防尘网和塑料薄膜", "临时搭设的广告牌", "露天堆放的编织袋")

_TEMPLATES: tuple[_Tpl, ...] = (
    # 供电电源
    _Tpl("供电电源", ("重大", "较大"), ("危险化学品", "煤矿", "石油化工", "冶金", "医疗", "非煤矿山", "供水"),
         "{grade}重要用户仅由{line}单电源供电，未按要求配置第二路供电电源",
         "{line}故障或检修时全部负荷失电，{load}中断，可能引发人身伤亡、设备损坏或环境污染事故",
         "按GB/T 29328-2018要求增设第二路供电电源，两路电源应取自不同变电站或同一变电站的不同母线段",
         "配置满足保安负荷的移动应急电源并预留接入点，修订全厂停电应急预案并每季度演练一次",
         (80, 450), important_only=True),
    _Tpl("供电电源", ("较大", "一般"), _ANY,
         "两路电源均取自{sub}同一段10kV母线，电源相互独立性不满足要求",
         "该段母线故障或检修时两路电源同时失电，{load}失去供电",
         "将其中一路电源改接至{sub}另一段母线或其他变电站，完善电源配置",
         "与供电公司调度建立停电快速联系机制，母线检修时提前启用自备应急电源",
         (10, 60), important_only=True),
    _Tpl("供电电源", ("较大", "一般"), _ANY,
         "两路电源备自投装置长期退出运行，{year}年以来未进行切换试验",
         "主供电源失电时无法自动切换至备用电源，造成重要负荷停电",
         "对备自投装置进行检修调试并投入运行，每半年开展一次切换试验并做好记录",
         "在值班室张贴手动倒闸操作流程，明确值班电工手动切换职责",
         (2, 15), important_only=True),
    _Tpl("供电电源", ("较大", "一般"), _ANY,
         "客户产权{line}线路通道内存在{obstacle}，导线对地及交叉跨越距离不足",
         "大风天气异物搭挂或机械碰线造成线路跳闸，并可能越级影响同一线路上其他用户供电",
         "清理线路通道内障碍物，对距离不足区段进行迁改或升高杆塔，加装防护警示标识",
         "大风天气加强特巡，通道内作业实行专人监护",
         (3, 40)),
    _Tpl("供电电源", ("一般", "较大"), _ANY,
         "进线电缆终端头红外测温{temp}℃，相间温差超过{dtemp}℃，存在发热缺陷",
         "终端头绝缘加速老化直至击穿，造成进线故障停电",
         "停电处理电缆终端头接触面，必要时重新制作终端头，处理后复测温度",
         "缩短测温周期至每周一次，降低该回路负荷运行",
         (1, 8)),
    # 自备应急电源
    _Tpl("自备应急电源", ("重大", "较大"), ("医疗", "煤矿", "危险化学品", "石油化工", "非煤矿山", "供水"),
         "未配置自备应急电源，保安负荷约{kw2}kW无应急供电保障",
         "外部电源全部失电时{load}中断，可能危及人身安全并造成重大社会影响",
         "按保安负荷容量的1.2倍配置自备应急电源（柴油发电机组或EPS），并接入保安负荷专用母线",
         "临时租用移动发电车待命，明确停电时人员撤离及工艺安全停车程序",
         (40, 200)),
    _Tpl("自备应急电源", ("较大", "一般"), _ANY,
         "自备柴油发电机组（{kw}kW）长期未启动试验，启动蓄电池亏电，无法实现{sec}秒内自启动",
         "外部电源失电时应急电源不能及时投入，保安负荷失电",
         "更换启动蓄电池，对机组进行全面检修，建立每月空载、每季度带载试验制度",
         "机组恢复前安排专人值守，储备足量柴油，确保可手动启动",
         (0.5, 6), exclude=("新能源",)),
    _Tpl("自备应急电源", ("重大", "较大"), _ANY,
         "自备发电机组与市电电源之间未装设可靠的机械和电气闭锁装置",
         "误操作时发电机向电网倒送电，可能造成供电公司检修人员触电伤亡",
         "加装双电源转换开关（ATS）或机械、电气双重闭锁装置，并报供电公司验收",
         "闭锁装置装设前，发电机出口开关加锁并由专人保管钥匙，严格执行操作票制度",
         (2, 20), exclude=("新能源",)),
    _Tpl("自备应急电源", ("一般",), ("医疗", "供水", "新能源", "其他"),
         "UPS/EPS蓄电池组已运行{age}年，核对性放电试验仅能维持{minutes}分钟",
         "停电时应急照明及关键设备供电时间不足，影响应急处置",
         "更换老化蓄电池组，定期开展核对性充放电试验",
         "配备便携式应急照明，完善停电应急处置流程",
         (3, 25)),
    _Tpl("自备应急电源", ("一般",), _ANY,
         "自备应急电源燃油储备不足{hours}小时运行用量，未建立燃油定期补给和检查制度",
         "长时间停电时应急电源因缺油停机",
         "按不少于{hours2}小时满负荷运行储备燃油，建立燃油补给台账",
         "与附近加油站签订应急供油协议",
         (0.5, 3), exclude=("新能源",)),
    # 非电性质保安措施
    _Tpl("非电性质保安措施", ("重大", "较大"), ("煤矿",),
         "矿井主要通风机、主排水泵未制定停电后的非电性质保安措施，井下人员撤离预案未经演练",
         "矿井全停电时井下瓦斯积聚、透水，可能造成群死群伤事故",
         "完善停电撤人制度和非电保安措施，配置压风自救装置，每半年开展一次全停电撤人演练",
         "停电时立即停止井下作业并撤出人员，安排专人检测瓦斯浓度",
         (10, 80)),
    _Tpl("非电性质保安措施", ("较大", "重大"), ("危险化学品", "石油化工"),
         "{unit}工段停电后缺少事故氮气吹扫、紧急泄放等非电性质保安措施",
         "停电后物料反应失控或泄漏，可能引发火灾、爆炸或中毒事故",
         "增设事故氮气储罐、重力泄放设施等不依赖电力的安全设施，完善紧急停车程序",
         "制定停电工艺安全处置卡，岗位人员每月演练一次",
         (20, 150)),
    _Tpl("非电性质保安措施", ("较大", "一般"), ("医疗",),
         "手术室、ICU未配置停电应急照明及手动呼吸复苏设备，停电应急预案未覆盖生命支持设备",
         "停电时正在进行的手术及危重病人生命支持中断",
         "为手术室、ICU配置应急照明和手动呼吸复苏设备，修订停电应急预案并开展演练",
         "后勤电工24小时值班，停电时优先保障手术室供电",
         (5, 30)),
    _Tpl("非电性质保安措施", ("一般", "较大"), ("石油化工",),
         "集输管线停电后无伴热保温措施，冬季存在原油凝管风险",
         "长时间停电导致管线凝堵，恢复生产困难并可能造成管线破裂漏油",
         "增设不依赖电力的燃气伴热或扫线设施，制定冬季停电防凝预案",
         "冬季停电超过2小时立即组织扫线",
         (10, 60)),
    _Tpl("非电性质保安措施", ("一般",), ("危险化学品",),
         "卤水输送泵站停电后缺少防冻、防结晶措施",
         "冬季停电造成卤水管道结晶堵塞，恢复生产周期长",
         "增设管道排空阀和保温措施，制定停电排空操作规程",
         "停电后按规程及时排空管道",
         (5, 30)),
    # 电气设备
    _Tpl("电气设备", ("较大", "一般"), _ANY,
         "{room}高压开关柜“五防”功能不完善，{n}面柜机械闭锁失效",
         "可能发生带负荷拉合隔离开关、带电挂接地线等误操作，造成人身触电和设备损坏",
         "对开关柜五防闭锁装置进行检修或改造，完善微机五防系统",
         "闭锁修复前倒闸操作实行双人监护，严格执行操作票制度",
         (3, 30)),
    _Tpl("电气设备", ("一般",), _ANY,
         "{transformer}油位偏低，呼吸器硅胶变色超过三分之二",
         "变压器绝缘受潮，可能导致绝缘击穿故障",
         "补充合格变压器油，更换呼吸器硅胶，并取油样试验",
         "加强巡视，记录油位和温度变化",
         (0.2, 2)),
    _Tpl("电气设备", ("一般", "较大"), _ANY,
         "高压电气设备预防性试验超期，上次试验为{year}年",
         "设备绝缘缺陷不能及时发现，可能引发设备故障并越级跳闸",
         "委托有资质的单位开展预防性试验，试验报告报供电公司备案",
         "试验完成前加强设备巡视和红外测温",
         (1, 8)),
    _Tpl("电气设备", ("一般",), _ANY,
         "{room}电缆沟及进线孔洞未封堵，未装设挡鼠板",
         "小动物进入配电室造成短路故障",
         "用防火材料封堵电缆沟及孔洞，配电室出入口装设不低于50cm的挡鼠板",
         "定期检查孔洞封堵情况",
         (0.1, 1)),
    _Tpl("电气设备", ("一般",), _ANY,
         "{room}灭火器已过期，未设置防火门，室内堆放杂物",
         "配电室火灾无法及时扑救，扩大事故范围",
         "更换合格灭火器，加装防火门，清理室内杂物",
         "明确配电室防火责任人，每周检查一次",
         (0.2, 2)),
    _Tpl("电气设备", ("较大", "重大"), ("煤矿",),
         "井下{n}台馈电开关漏电保护装置失效，未按规定进行漏电跳闸试验",
         "井下漏电时不能及时切除故障，可能引发人员触电或瓦斯、煤尘爆炸",
         "立即检修或更换失效的漏电保护装置，每天进行一次跳闸试验并记录",
         "失效开关所带设备立即停用",
         (2, 15)),
    _Tpl("电气设备", ("较大", "重大"), ("煤矿", "危险化学品", "石油化工"),
         "{area}防爆电气设备存在失爆{n}处（隔爆面锈蚀、电缆引入装置不合格）",
         "防爆性能失效，遇可燃气体或粉尘可能引发爆炸事故",
         "立即停用失爆设备并进行修复或更换，建立防爆设备定期检查制度",
         "修复前停止相关区域作业，加强可燃气体检测",
         (1, 12)),
    _Tpl("电气设备", ("一般",), _ANY,
         "接地装置接地电阻实测{ohm}Ω，超过规程要求，防雷检测报告已过期",
         "雷击或接地故障时设备损坏，跨步电压危及人身安全",
         "对接地网进行开挖检查和降阻改造，委托有资质单位重新检测",
         "雷雨天气禁止人员靠近接地引下线",
         (1, 10)),
    _Tpl("电气设备", ("一般",), _ANY,
         "无功补偿电容器组{n}台电容器鼓肚、渗油，已退出运行",
         "电容器爆裂引发火灾，功率因数偏低影响电能质量",
         "更换损坏电容器，检查放电装置及熔断器",
         "损坏电容器与运行设备隔离并悬挂警示标识",
         (0.5, 5), exclude=("医疗",)),
    _Tpl("电气设备", ("一般",), ("新能源",),
         "光伏区{n}台箱式变压器密封不良，风沙侵入箱体内部积尘严重",
         "积尘受潮后引起闪络放电，导致箱变及集电线路故障",
         "对箱变进行清扫和密封处理，更换老化密封条",
         "大风沙尘天气后及时巡视清扫",
         (1, 10)),
    _Tpl("电气设备", ("较大", "一般"), _ANY,
         "进线保护定值未按供电公司下达的定值单整定，与上级变电站出线保护配合不当",
         "客户内部故障时越级跳闸，造成{line}所在上级线路停电，影响其他用户供电",
         "按供电公司调控中心下达的定值单重新整定保护定值并校验，结果报供电公司备案",
         "定值整定前加强内部设备巡视，发生跳闸立即报告供电公司调度",
         (0.5, 3)),
    _Tpl("电气设备", ("较大",), _ANY,
         "今年以来客户内部故障已{n}次造成{line}跳闸，故障原因未查明",
         "反复越级跳闸影响同一线路其他用户可靠供电，并可能扩大为电网事故",
         "全面排查内部设备和保护配置，查明故障原因，必要时在产权分界点加装分界断路器",
         "故障原因查明前按供电公司要求限负荷运行",
         (2, 20)),
    _Tpl("电气设备", ("一般", "较大"), ("非煤矿山", "冶金", "危险化学品"),
         "{room}高低压配电装置已运行{age2}年，设备老化严重，部分元件已停产无备件",
         "设备故障率高，故障后无法及时修复",
         "制定配电设备更新改造计划，分批更换老旧设备",
         "储备常用易损件，加强设备巡视",
         (20, 120)),
    # 运行管理
    _Tpl("运行管理", ("一般",), _ANY,
         "值班电工{n2}人中仅{m}人持有效特种作业操作证（电工），无证人员单独值班",
         "无证人员误操作引发人身触电或设备事故",
         "组织值班电工参加培训取证，无证人员不得单独值班和操作",
         "取证前由持证电工带班",
         (0.2, 2)),
    _Tpl("运行管理", ("一般",), _ANY,
         "未制定停电应急预案，或预案内容与现场实际不符、从未演练",
         "突发停电时处置混乱，延误恢复时间并可能引发次生事故",
         "结合生产工艺编制停电应急预案，报县能源主管部门备案，每年至少演练一次",
         "预案编制完成前明确停电时各岗位处置要点",
         None),
    _Tpl("运行管理", ("一般",), _ANY,
         "配电室运行日志、巡视记录不全，倒闸操作未使用操作票",
         "运行状况无法追溯，倒闸操作易发生误操作",
         "建立健全运行记录制度，严格执行“两票三制”",
         "由电气负责人每周检查记录",
         None),
    _Tpl("运行管理", ("一般",), _ANY,
         "绝缘手套、绝缘靴、验电器等安全工器具试验超期",
         "安全工器具绝缘失效导致操作人员触电",
         "送有资质单位试验，不合格的立即报废更换，建立工器具试验台账",
         "试验期间借用合格工器具，禁止使用超期工器具",
         (0.1, 1)),
    _Tpl("运行管理", ("一般",), _ANY,
         "供用电合同及调度协议已于{year}年到期，未按规定续签",
         "双方安全责任界面不清，故障处置责任难以界定",
         "与供电公司重新签订供用电合同和调度协议，明确产权分界和安全责任",
         "续签前按原协议约定执行调度指令",
         None),
    _Tpl("运行管理", ("一般",), _ANY,
         "一次系统图与现场接线不符，电源改造后未更新图纸和模拟图板",
         "倒闸操作依据错误，可能发生误操作或向检修设备误送电",
         "核对现场接线，更新一次系统图、模拟图板和运行规程",
         "图纸更新前倒闸操作须现场核对",
         (0.1, 1)),
    # 其他
    _Tpl("其他", ("一般",), _ANY,
         "厂区内存在私拉乱接临时用电线路，临时线路未装设漏电保护器",
         "线路绝缘破损引发触电或火灾",
         "拆除违规临时线路，确需临时用电的按规范敷设并装设漏电保护器",
         "拆除前悬挂警示标识，禁止无关人员接触",
         (0.2, 3)),
    _Tpl("其他", ("一般",), _ANY,
         "{room}屋顶防水层老化漏水，雨季存在进水风险",
         "雨水滴落至带电设备造成短路故障",
         "对配电室屋顶进行防水修缮，设备上方加装防雨挡板",
         "雨天加强巡视，备好防水布和抽水泵",
         (1, 8)),
    _Tpl("其他", ("一般", "较大"), _ANY,
         "厂区{floater}距{line}过近，大风天气易被吹起搭挂导线",
         "异物搭挂造成线路短路跳闸，影响同一线路其他用户供电",
         "对易漂浮物进行加固或清理，与线路保持足够安全距离",
         "大风预警发布时组织专人巡查清理",
         (0.5, 5)),
)

_SEVERITY_WEIGHTS = {"一般": 0.73, "较大": 0.23, "重大": 0.04}
_GRADE_WEIGHT = {"特级": 4.0, "一级": 3.0, "二级": 2.0, "临时性": 1.0, "一般": 1.2}
# (prompt, late, stalled) remediation behaviour by severity
_BEHAVIOUR_WEIGHTS = {"一般": (0.65, 0.22, 0.13), "较大": (0.5, 0.3, 0.2), "重大": (0.3, 0.3, 0.4)}
_PERIODS = {"一般": (15, 30, 30, 45, 60), "较大": (30, 60, 60, 90), "重大": (90, 120, 180, 365)}
_HAZARDS_PER_CUSTOMER_DAY = 150 / (32 * DEFAULT_WINDOW_DAYS)

_REMARKS_OPEN = ("已下达隐患整改通知书", "客户已书面承诺整改期限", "已报县能源主管部门", "需停电配合，计划结合年度检修实施",
                 "整改资金待客户上级公司审批", "设备已订货，等待到货安装")
_REMARKS_DONE = ("已现场复查，同意销号", "整改完成，复查合格", "已闭环")


def _applicable(tpl: _Tpl, cust: _Customer) -> bool:
    if tpl.industries is not None and cust.industry not in tpl.industries:
        return False
    if cust.industry in tpl.exclude:
        return False
    if tpl.important_only and cust.grade not in IMPORTANT_GRADES:
        return False
    return True


def _context(rng: random.Random, cust: _Customer, found: dt.date) -> dict[str, Any]:
    """Values for the template placeholders; always draws the same number of random values."""
    n = rng.randint(2, 6)
    n2 = rng.randint(4, 8)
    return {
        "grade": cust.grade,
        "line": cust.line,
        "load": _LOADS.get(cust.industry, _LOADS["其他"]),
        "sub": rng.choice(_SUBSTATIONS.get(cust.county, (f"{cust.county}110kV变电站",))),
        "year": found.year - rng.randint(2, 5),
        "obstacle": rng.choice(_OBSTACLES),
        "floater": rng.choice(_FLOATERS),
        "temp": rng.randint(68, 112),
        "dtemp": rng.choice((10, 15, 20)),
        "kw": rng.choice((200, 300, 400, 500, 800)),
        "kw2": rng.choice((150, 250, 320, 480, 600, 900)),
        "sec": rng.choice((15, 30)),
        "age": rng.randint(5, 9),
        "age2": rng.randint(18, 28),
        "minutes": rng.randint(5, 25),
        "hours": rng.choice((4, 6, 8)),
        "hours2": rng.choice((12, 24)),
        "unit": rng.choice(_UNITS),
        "area": rng.choice(_AREAS.get(cust.industry, ("生产区",))),
        "room": rng.choice(_ROOMS),
        "transformer": rng.choice(_TRANSFORMERS),
        "ohm": rng.choice((4.8, 6.2, 7.5, 9.1, 12.4)),
        "n": n,
        "n2": n2,
        "m": rng.randint(1, n2 - 2),
    }


@dataclass(frozen=True)
class _Story:
    """A hazard's life story, independent of the report date."""

    customer: _Customer
    customer_id: str
    found: dt.date
    tpl: _Tpl
    severity: str
    ctx: dict[str, Any]
    notice: dt.date | None
    deadline: dt.date | None
    start: dt.date | None  # customer starts remediation (None: never within the horizon)
    end: dt.date | None  # remediation complete (None: never within the horizon)
    owner: str
    funds: float | None
    gov_supervised: str
    remark_draw: float
    remark_pick: int


def _draw_story(rng: random.Random, cust: _Customer, cid: str, found: dt.date, *,
                force_major_stalled: bool = False, force_blank_deadline: bool = False) -> _Story:
    severities = list(_SEVERITY_WEIGHTS)
    weights = list(_SEVERITY_WEIGHTS.values())
    if cust.grade not in IMPORTANT_GRADES:
        weights = [0.8, 0.18, 0.02]
    severity = rng.choices(severities, weights)[0]
    if force_major_stalled:
        severity = "重大"
    applicable = [t for t in _TEMPLATES if _applicable(t, cust)]
    candidates = [t for t in applicable if severity in t.severities] or applicable
    tpl = rng.choice(candidates)
    if severity not in tpl.severities:
        severity = tpl.severities[0]
    ctx = _context(rng, cust, found)

    notice_lag = rng.choice((0, 1, 1, 2, 3, 3, 5, 7, 10))
    has_notice = rng.random() > 0.06
    period = rng.choice(_PERIODS[severity])
    blank_deadline = rng.random() < 0.07 or force_blank_deadline
    behaviour = rng.choices(("prompt", "late", "stalled"), _BEHAVIOUR_WEIGHTS[severity])[0]
    if force_major_stalled:
        behaviour = "stalled"
        period = 90
        blank_deadline = False
    start_lag = rng.randint(3, 25)
    stalled_started = rng.random() < 0.5
    fraction = rng.uniform(0.3, 1.0)
    late_by = rng.randint(5, 150)
    owner_is_contact = rng.random() < 0.75
    other_owner = _person(rng)
    funds_draw = rng.random()
    funds_value = rng.uniform(*(tpl.funds or (0, 1)))
    gov_draw = rng.random()
    remark_draw = rng.random()
    remark_pick = rng.randrange(1000)

    notice = found + dt.timedelta(days=notice_lag) if has_notice else None
    deadline = None if blank_deadline else found + dt.timedelta(days=period)
    start = found + dt.timedelta(days=notice_lag + start_lag)
    if behaviour == "prompt":
        end = found + dt.timedelta(days=max(notice_lag + 1, int(period * fraction)))
    elif behaviour == "late":
        end = found + dt.timedelta(days=period + late_by)
    else:
        end = None
        if not stalled_started:
            start = None
    if end is not None and start is not None and start > end:
        start = end

    if tpl.funds is None:
        funds = None if funds_draw < 0.5 else 0.0
    elif funds_draw < 0.1:
        funds = None  # the clerk left it blank
    else:
        funds = round(funds_value, 1 if tpl.funds[1] >= 10 else 2)
    if severity == "重大":
        gov = "是"
    elif severity == "较大":
        gov = "是" if gov_draw < 0.35 else "否"
    else:
        gov = "是" if gov_draw < 0.03 else "否"
    return _Story(cust, cid, found, tpl, severity, ctx, notice, deadline, start, end,
                  _named_person(cid) if owner_is_contact else other_owner, funds, gov, remark_draw,
                  remark_pick)


def _hazard_at(story: _Story, hazard_id: str, as_of: dt.date) -> SampleHazard:
    """Read a story at the report date."""
    if story.end is not None and story.end <= as_of:
        status, completed = STATUS_DONE, story.end
    elif story.start is not None and story.start <= as_of:
        status, completed = "整改中", None
    else:
        status, completed = "未整改", None
    remarks = None
    if story.remark_draw < 0.3:
        pool = _REMARKS_DONE if status == STATUS_DONE else _REMARKS_OPEN
        remarks = pool[story.remark_pick % len(pool)]
    fmt = story.ctx
    cust = story.customer
    return SampleHazard(
        county=cust.county,
        customer_id=story.customer_id,
        customer_name=cust.name,
        customer_grade=cust.grade,
        industry=cust.industry,
        hazard_id=hazard_id,
        found_date=story.found,
        description=story.tpl.description.format(**fmt),
        category=story.tpl.category,
        severity=story.severity,
        consequence=story.tpl.consequence.format(**fmt),
        suggestion=story.tpl.suggestion.format(**fmt),
        notice_date=story.notice if story.notice is not None and story.notice <= as_of else None,
        deadline=story.deadline,
        owner=story.owner,
        funds=story.funds,
        contingency=story.tpl.contingency.format(**fmt),
        status=status,
        completed_date=completed,
        gov_supervised=story.gov_supervised,
        remarks=remarks,
    )


def sample_hazards(as_of: dt.date, counties: Sequence[str], seed: int = DEFAULT_SEED, *,
                   since: dt.date | None = None) -> list[SampleHazard]:
    """About 150 hazards found between `since` (default: 300 days before `as_of`) and `as_of`.

    Deterministic in (as_of, counties, seed, since). Each county has its own random stream, so adding
    a county does not change the others. With a fixed `since`, a later `as_of` returns the same
    hazards (same ids, dates and texts, statuses moved on) followed by newly found ones.
    The first hazard of the first county is always a 重大 hazard that the customer leaves unresolved
    (overdue 90 days after it was found); the second has no deadline.
    """
    if since is None:
        since = as_of - dt.timedelta(days=DEFAULT_WINDOW_DAYS)
    catalogue = _catalogue(counties)
    hazards: list[SampleHazard] = []
    for ci, county in enumerate(counties):
        customers = [(c, cid) for c, cid in catalogue if c.county == county]
        if not customers:
            continue
        rng = random.Random(f"hazards|{seed}|{county}")
        rate = _HAZARDS_PER_CUSTOMER_DAY * len(customers)
        cust_weights = [_GRADE_WEIGHT.get(c.grade, 1.0) for c, _ in customers]
        code = county_code(county)
        t = 0.0
        seq_by_year: dict[int, int] = {}
        index = 0
        while True:
            t += rng.expovariate(rate)
            found = since + dt.timedelta(days=int(t))
            if found.weekday() >= 5:  # inspections happen on working days
                found += dt.timedelta(days=7 - found.weekday())
            if found > as_of:
                break
            cust, cid = rng.choices(customers, cust_weights)[0]
            if ci == 0 and index == 0:
                # a major hazard needs an important customer to be believable
                important = [(c, i) for c, i in customers if c.grade in IMPORTANT_GRADES] or customers
                cust, cid = important[0]
            story = _draw_story(rng, cust, cid, found,
                                force_major_stalled=(ci == 0 and index == 0),
                                force_blank_deadline=(ci == 0 and index == 1))
            seq_by_year[found.year] = seq_by_year.get(found.year, 0) + 1
            hazard_id = f"{code}-{found.year}-{seq_by_year[found.year]:03d}"
            hazards.append(_hazard_at(story, hazard_id, as_of))
            index += 1
    return hazards


# ---------------------------------------------------------------------------------------------
# Register workbooks
# ---------------------------------------------------------------------------------------------

# Header spellings of the "variant" style: traditional characters, full-width brackets, line breaks,
# stray spaces — every one resolves to its field through schemas.headers.match_header.
VARIANT_HEADERS: dict[str, str] = {
    "county": "所属县市",
    "customer_id": "戶號",
    "customer_name": "用户名称",
    "customer_grade": "客户 等级",
    "industry": "行业",
    "hazard_id": "隱患編號",
    "found_date": "检查日期",
    "description": "隐患\n描述",
    "category": "隐患类型",
    "severity": "隐患级别",
    "consequence": "可能造成的\n后果",
    "suggestion": "整改措施",
    "notice_date": "书面告知日期",
    "deadline": "计划完成时间",
    "owner": " 责任人 ",
    "funds": "整改资金（万元）",
    "contingency": "防控措施及应急预案",
    "status": "治理状态",
    "completed_date": "实际完成时间",
    "gov_supervised": "是否督办",
    "remarks": "备  注",
    "reinspect_date": "验收日期",
    "reinspector": "验收人",
    "reinspect_result": "验收结论",
    "signed_by": "客户签收人",
    "extension_reason": "延期理由",
    "extension_approval": "批准单位",
    "supervisor": "督办部门",
    "supervised_date": "督办时间",
    "supervision_deadline": "督办要求完成时间",
}
# Column order of the variant: the id right after 序号, as many counties keep it.
VARIANT_ORDER: tuple[str, ...] = ("hazard_id",) + tuple(f.name for f in FIELDS if f.name != "hazard_id")

_STATUS_SPELLINGS = {
    "未整改": ("未整改", "待整改"),
    "整改中": ("整改中", "正在整改"),
    "已整改": ("已整改", "已完成", "整改完成", "已销号"),
}
_WRAP_FIELDS = {"customer_name", "description", "consequence", "suggestion", "contingency", "remarks"}


def register_title(county: str, as_of: dt.date) -> str:
    """"格尔木市供电公司2026年10月客户安全隐患台账"."""
    return f"{county}供电公司{as_of.year}年{as_of.month}月客户安全隐患台账"


def _base(**extra: Any) -> dict[str, Any]:
    return {"font_name": FONT, "font_size": 10, "valign": "vcenter", "border": 1, **extra}


def write_register(path: Path | str, county: str, hazards: Iterable[SampleHazard], *, as_of: dt.date,
                   style: str = "canonical", only_county: bool = True, photos: bool = False) -> Path:
    """Write one county register workbook the way county staff produce it.

    style: "canonical" (title row 1, canonical headers row 2 after a 序号 column, real dates),
    "variant" (a 填写说明 sheet first, two title rows, header variants, mixed date spellings, numeric
    户号 where there is no leading zero, status synonyms, blank bordered rows, a 合计 row and a
    填报人/审核人 footer) or "no_hazard_id" (canonical without the 隐患编号 column).
    Only hazards of `county` are written unless only_county=False (to build a wrong-county file).
    `photos` (canonical style): a 隐患照片 column with an inspection photo inserted over the cell of each
    较大 and 重大 hazard, as clerks insert them (drawn, see `sample_photo`).
    """
    if style not in REGISTER_STYLES:
        raise ValueError(f"unknown register style {style!r}; expected one of {REGISTER_STYLES}")
    path = Path(path)
    rows = [h for h in hazards if not only_county or h.county == county]
    if style == "variant":
        _write_variant(path, county, rows, as_of)
    else:
        names = [f.name for f in FIELDS if not (style == "no_hazard_id" and f.name == "hazard_id")]
        _write_canonical(path, county, rows, as_of, names, photos=photos)
    return path


PHOTO_HEADER = "隐患照片"


def sample_photo(hazard_id: str, size: tuple[int, int] = (800, 600)) -> bytes:
    """A drawn stand-in for an inspection photo (a switch cabinet, cables, a warning sign), one per hazard id."""
    import io

    from PIL import Image, ImageDraw

    rng = random.Random(hashlib.sha256(hazard_id.encode()).digest())
    w, h = size
    img = Image.linear_gradient("L").resize((w, h)).point(lambda v: 90 + v // 3).convert("RGB")
    draw = ImageDraw.Draw(img)
    x0 = rng.randint(40, w // 3)
    cabinet = (x0, h // 6, x0 + w // 3, h - h // 8)
    draw.rectangle(cabinet, fill=(150, 158, 165), outline=(60, 60, 60), width=4)
    for k in range(4):  # breaker rows
        y = cabinet[1] + 30 + k * (cabinet[3] - cabinet[1] - 60) // 4
        draw.rectangle((cabinet[0] + 20, y, cabinet[2] - 20, y + 28), fill=(90, 95, 100))
    for k in range(rng.randint(3, 6)):  # cables down the wall
        x = cabinet[2] + 20 + k * 18
        draw.line((x, 0, x + rng.randint(-40, 40), h), fill=tuple(rng.randrange(30, 90) for _ in range(3)), width=7)
    cx, cy, r = rng.randint(w // 2, w - 90), rng.randint(90, h // 2), 60
    draw.polygon([(cx, cy - r), (cx - r, cy + r * 3 // 4), (cx + r, cy + r * 3 // 4)], fill=(250, 200, 0),
                 outline=(0, 0, 0), width=5)
    draw.rectangle((cx - 5, cy - r // 3, cx + 5, cy + r // 4), fill=(0, 0, 0))
    draw.text((12, h - 24), f"{hazard_id}", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _write_canonical(path: Path, county: str, rows: list[SampleHazard], as_of: dt.date,
                     names: list[str], photos: bool = False) -> None:
    by_name = {f.name: f for f in FIELDS}
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        id_fmt = wb.add_format(_base(num_format="@"))
        ws = wb.add_worksheet("隐患台账")
        headers = ["序号", *(by_name[n].header for n in names), *([PHOTO_HEADER] if photos else [])]
        last_col = len(headers) - 1
        ws.merge_range(0, 0, 0, last_col, register_title(county, as_of), fmts.title)
        ws.set_row(0, 32)
        ws.set_column(0, 0, 6)
        for c, name in enumerate(names, start=1):
            ws.set_column(c, c, by_name[name].width)
        for c, h in enumerate(headers):
            ws.write_string(1, c, h, fmts.header)
        ws.set_row(1, 30)
        for i, h in enumerate(rows):
            r = 2 + i
            ws.write_number(r, 0, i + 1, fmts.integer)
            for c, name in enumerate(names, start=1):
                _write_value(ws, r, c, name, getattr(h, name), fmts, id_fmt)
            if photos and h.severity in ("较大", "重大"):
                import io

                ws.set_row(r, 60)
                ws.insert_image(r, last_col, f"{h.hazard_id}.jpg", {
                    "image_data": io.BytesIO(sample_photo(h.hazard_id)), "x_scale": 0.12, "y_scale": 0.12,
                    "x_offset": 4, "y_offset": 4})
        if photos:
            ws.set_column(last_col, last_col, 14)
        last_row = 1 + max(len(rows), 1)
        ws.freeze_panes(2, 0)
        ws.autofilter(1, 0, last_row, last_col)
        setup_print(ws, header_rows=(1, 1))


def _write_value(ws, r: int, c: int, name: str, value: Any, fmts: Formats, id_fmt) -> None:
    kind = next(f.kind for f in FIELDS if f.name == name)
    if name == "customer_id":
        ws.write_string(r, c, value, id_fmt)
    elif kind == "date":
        write_cell(ws, r, c, value, fmts.date)
    elif kind == "number":
        write_cell(ws, r, c, value, fmts.number)
    elif name in _WRAP_FIELDS:
        write_cell(ws, r, c, value, fmts.wrap)
    elif kind == "vocab":
        write_cell(ws, r, c, value, fmts.center)
    else:
        write_cell(ws, r, c, value, fmts.text)


def _variant_date(rng: random.Random, d: dt.date) -> tuple[str, Any]:
    """One of the spellings county staff use for a date: ("date", date) or ("text", str)."""
    pick = rng.randrange(6)
    if pick == 0:
        return "date", d
    if pick == 1:
        return "cn_date", d  # a real date shown as 2026年3月5日
    if pick == 2:
        return "text", f"{d.year}/{d.month}/{d.day}"
    if pick == 3:
        return "text", f"{d.year}年{d.month}月{d.day}日"
    if pick == 4:
        return "text", f"{d.year}.{d.month}.{d.day}"
    return "date", d


def _write_variant(path: Path, county: str, rows: list[SampleHazard], as_of: dt.date) -> None:
    rng = random.Random(f"variant|{county}|{as_of.isoformat()}")
    by_name = {f.name: f for f in FIELDS}
    names = list(VARIANT_ORDER)
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        id_fmt = wb.add_format(_base(num_format="@"))
        cn_date = wb.add_format(_base(num_format='yyyy"年"m"月"d"日"', align="center"))
        plain = wb.add_format({"font_name": FONT, "font_size": 11, "text_wrap": True, "valign": "top"})
        bold = wb.add_format({"font_name": FONT, "font_size": 12, "bold": True})

        # the instructions sheet comes first, as in many county workbooks
        notes = wb.add_worksheet("填写说明")
        notes.set_column(0, 0, 100)
        notes.write_string(0, 0, "填写说明", bold)
        lines = (
            "1. 本表每月20日前报送州公司营销部，报送完整台账（含已整改隐患），隐患编号保持不变。",
            "2. 户号按营销系统户号填写；日期填写如 2026-03-05。",
            "3. 整改状态填写：未整改、整改中、已整改。",
            "4. 已整改的隐患须填写实际完成时间。",
        )
        for i, line in enumerate(lines, start=1):
            notes.write_string(i, 0, line, plain)

        ws = wb.add_worksheet(f"{as_of.month}月台账")
        headers = ["序号", *(VARIANT_HEADERS[n] for n in names)]
        last_col = len(headers) - 1
        ws.merge_range(0, 0, 0, last_col, register_title(county, as_of), fmts.title)
        ws.set_row(0, 32)
        ws.merge_range(1, 0, 1, last_col,
                       f"填报单位：国网{_county_short(county)}供电公司（盖章）          报送日期：{as_of.year}年{as_of.month}月{as_of.day}日",
                       fmts.subtitle)
        header_row = 2
        for c, h in enumerate(headers):
            ws.write_string(header_row, c, h, fmts.header)
        ws.set_row(header_row, 36)
        ws.set_column(0, 0, 5)
        for c, name in enumerate(names, start=1):
            ws.set_column(c, c, by_name[name].width)

        funds_col = 1 + names.index("funds")
        for i, h in enumerate(rows):
            r = header_row + 1 + i
            ws.write_number(r, 0, i + 1, fmts.integer)
            for c, name in enumerate(names, start=1):
                value = getattr(h, name)
                if name == "customer_id":
                    if not value.startswith("0") and rng.random() < 0.6:
                        ws.write_number(r, c, int(value), fmts.integer)
                    else:
                        ws.write_string(r, c, value, id_fmt)
                elif by_name[name].kind == "date" and value is not None:
                    how, v = _variant_date(rng, value)
                    if how == "date":
                        write_cell(ws, r, c, v, fmts.date)
                    elif how == "cn_date":
                        write_cell(ws, r, c, v, cn_date)
                    else:
                        ws.write_string(r, c, v, fmts.center)
                elif name == "status":
                    ws.write_string(r, c, rng.choice(_STATUS_SPELLINGS.get(value, (value,))), fmts.center)
                elif name == "customer_name" and rng.random() < 0.2:
                    ws.write_string(r, c, value + " ", fmts.wrap)  # a stray trailing space
                else:
                    _write_value(ws, r, c, name, value, fmts, id_fmt)

        # bordered blank rows the clerk prepared but did not use
        r = header_row + 1 + len(rows)
        for _ in range(3):
            for c in range(last_col + 1):
                ws.write_blank(r, c, None, fmts.text)
            r += 1
        # 合计 row
        total = round(sum(h.funds or 0 for h in rows), 2)
        ws.merge_range(r, 0, r, 2, "合计", fmts.total)
        for c in range(3, last_col + 1):
            ws.write_blank(r, c, None, fmts.total)
        ws.write_string(r, 3, f"共{len(rows)}条", fmts.total)
        first_data, last_data = header_row + 1, header_row + max(len(rows), 1)
        col_letter = xl_col_to_name(funds_col)
        ws.write_formula(r, funds_col, f"=SUM({col_letter}{first_data + 1}:{col_letter}{last_data + 1})",
                         fmts.total, total)
        total_row = r
        # footer
        footer = f"填报人：{_named_person('clerk|' + county)}        审核人：{_named_person('chief|' + county)}"
        ws.merge_range(total_row + 2, 0, total_row + 2, last_col, footer, fmts.subtitle)
        ws.write_string(total_row + 3, 0, f"联系电话：0977-{random.Random('tel|' + county).randint(8200000, 8299999)}",
                        fmts.subtitle)
        # trailing formatted-but-empty rows
        for rr in range(total_row + 5, total_row + 15):
            for c in range(last_col + 1):
                ws.write_blank(rr, c, None, fmts.text)
        ws.freeze_panes(header_row + 1, 0)
        setup_print(ws, header_rows=(header_row, header_row))



# ---------------------------------------------------------------------------------------------
# Recipient directory
# ---------------------------------------------------------------------------------------------


def _county_short(county: str) -> str:
    return county[:-1] if county[-1:] in "市县" and len(county) > 2 else county


def directory_rows(counties: Sequence[str], customers: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """The sample directory as dicts keyed by DIRECTORY_HEADERS."""
    h_type, h_county, h_id, h_org, h_contact, h_mail, h_mobile = DIRECTORY_HEADERS
    rows: list[dict[str, str]] = []

    def add(party: str, county: str, cid: str, org: str, contact: str, mail: str, key: str) -> None:
        rows.append({h_type: party, h_county: county, h_id: cid, h_org: org, h_contact: contact,
                     h_mail: mail, h_mobile: _mobile(key)})

    add(PARTY_GOV, WHOLE_PREFECTURE, "", f"{PREFECTURE}能源局", _named_person("gov|prefecture"),
        "anquan@haixi-energy.example.cn", "gov|prefecture")
    add(PARTY_UTILITY, WHOLE_PREFECTURE, "", "国网海西供电公司营销部", _named_person("utility|prefecture"),
        "yingxiao@haixi-power.example.cn", "utility|prefecture")
    double_done = False
    for county in counties:
        code = county_code(county).lower()
        bureau = f"{county}发展和改革委员会（能源局）" if county.endswith("市") else f"{county}工业商务和信息化局"
        add(PARTY_GOV, county, "", bureau, _named_person(f"gov|{county}"), f"anquan@{code}-energy.example.cn",
            f"gov|{county}")
        add(PARTY_UTILITY, county, "", f"国网{_county_short(county)}供电公司", _named_person(f"utility|{county}"),
            f"yongjian@{code}-power.example.cn", f"utility|{county}")
        slugs = {c.name: c.slug for c in _customers_of(county)}
        for cust in customers:
            if cust["county"] != county:
                continue
            slug = slugs.get(cust["customer_name"]) or f"{code}-kh{cust['customer_id'][-4:]}"
            mail = f"dianqi@{slug}.example.cn"
            if not double_done and cust.get("industry") == "医疗":
                mail += f"；houqin@{slug}.example.cn"  # one contact with two addresses
                double_done = True
            add(PARTY_CUSTOMER, county, cust["customer_id"], cust["customer_name"],
                _named_person(cust["customer_id"]), mail, f"customer|{cust['customer_id']}")
    if not double_done:
        for row in rows:
            if row[h_type] == PARTY_CUSTOMER:
                row[h_mail] += "；" + row[h_mail].replace("dianqi@", "houqin@")
                break
    return rows


def write_directory(path: Path | str, counties: Sequence[str], customers: Sequence[dict[str, str]]) -> Path:
    """Write a sample 通讯录.xlsx: headers DIRECTORY_HEADERS on row 1, one row per recipient unit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = directory_rows(counties, customers)
    widths = (14, 12, 14, 36, 10, 48, 14)
    with atomic_workbook(path) as wb:
        fmts = Formats(wb)
        id_fmt = wb.add_format(_base(num_format="@"))
        ws = wb.add_worksheet("通讯录")
        for c, (h, w) in enumerate(zip(DIRECTORY_HEADERS, widths)):
            ws.set_column(c, c, w)
            ws.write_string(0, c, h, fmts.header)
        ws.set_row(0, 24)
        for i, row in enumerate(rows, start=1):
            for c, h in enumerate(DIRECTORY_HEADERS):
                value = row[h]
                if h in ("户号", "手机号码") and value:
                    ws.write_string(i, c, value, id_fmt)
                elif h in ("户号", "手机号码"):
                    ws.write_blank(i, c, None, id_fmt)
                else:
                    write_cell(ws, i, c, value or None, fmts.text)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(rows), 1), len(DIRECTORY_HEADERS) - 1)
        setup_print(ws, header_rows=(0, 0), page_header=f"{PREFECTURE}用电安全“1+1+1”工作网通讯录")
    return path


def write_sample_inbox(inbox: Path | str, as_of: dt.date, counties: Sequence[str], *, seed: int = DEFAULT_SEED,
                       styles: dict[str, str] | None = None, since: dt.date | None = None) -> list[Path]:
    """Fill an inbox folder for a demo: `inbox/<county>/<title>.xlsx` per county, plus the directory beside the
    inbox where the counties do not write: `config/通讯录.xlsx` (the default `Settings.directory_file`).

    `styles` maps county -> register style; by default counties alternate canonical / variant.
    """
    inbox = Path(inbox)
    hazards = sample_hazards(as_of, counties, seed, since=since)
    written: list[Path] = []
    for i, county in enumerate(counties):
        style = (styles or {}).get(county) or ("canonical" if i % 2 == 0 else "variant")
        written.append(write_register(inbox / county / f"{register_title(county, as_of)}.xlsx", county, hazards,
                                      as_of=as_of, style=style))
    directory = inbox.parent / "config" / "通讯录.xlsx"
    directory.parent.mkdir(parents=True, exist_ok=True)
    written.append(write_directory(directory, counties, sample_customers(counties)))
    return written
