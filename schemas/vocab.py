"""Controlled vocabularies of the hazard register and the recipient directory (docs/domain.md, 隐患台账).

Vocabularies are data: the settings may replace the severity list and the county list; the rest
follow national standards and the 1+1+1 agreement.
"""

from __future__ import annotations

DEFAULT_COUNTIES: tuple[str, ...] = ("德令哈市", "格尔木市", "茫崖市", "乌兰县", "都兰县", "天峻县")
PREFECTURE = "海西州"
WHOLE_PREFECTURE = "全州"

CUSTOMER_GRADES: tuple[str, ...] = ("特级", "一级", "二级", "临时性", "一般")
INDUSTRIES: tuple[str, ...] = (
    "煤矿", "非煤矿山", "危险化学品", "冶金", "石油化工", "医疗", "供水", "新能源", "其他",
)
CATEGORIES: tuple[str, ...] = ("供电电源", "自备应急电源", "非电性质保安措施", "电气设备", "运行管理", "其他")
DEFAULT_SEVERITIES: tuple[str, ...] = ("一般", "较大", "重大")
MAJOR_SEVERITY = "重大"
STATUSES: tuple[str, ...] = ("未整改", "整改中", "已整改")
STATUS_OPEN: tuple[str, ...] = ("未整改", "整改中")
STATUS_DONE = "已整改"
YES_NO: tuple[str, ...] = ("是", "否")

STATUS_SYNONYMS: dict[str, str] = {
    "未整改": "未整改",
    "待整改": "未整改",
    "未完成": "未整改",
    "未开始": "未整改",
    "整改中": "整改中",
    "正在整改": "整改中",
    "整改中（未完成）": "整改中",
    "已整改": "已整改",
    "已完成": "已整改",
    "整改完成": "已整改",
    "完成": "已整改",
    "已销号": "已整改",
    "已闭环": "已整改",
}

# 复查结论 (re-inspection verdict): 合格 closes a 已整改 hazard (销号), 不合格 reopens it
REINSPECT_PASS = "合格"
REINSPECT_FAIL = "不合格"
REINSPECT_RESULTS: tuple[str, ...] = (REINSPECT_PASS, REINSPECT_FAIL)
REINSPECT_SYNONYMS: dict[str, str] = {
    "合格": "合格", "通过": "合格", "符合": "合格", "验收合格": "合格", "复查合格": "合格",
    "不合格": "不合格", "不通过": "不合格", "未通过": "不合格", "不符合": "不合格", "验收不合格": "不合格",
    "复查不合格": "不合格",
}
# statuses that claim a closure (销号) the register must back with a passing re-inspection
CLOSED_STATUS_WORDS: tuple[str, ...] = ("已销号", "已闭环", "销号", "闭环")

YES_NO_SYNONYMS: dict[str, str] = {
    "是": "是", "否": "否", "y": "是", "n": "否", "yes": "是", "no": "否",
    "√": "是", "×": "否", "已督办": "是", "未督办": "否", "true": "是", "false": "否",
}

# Traditional-character spellings seen in registers typed on Big5 systems.
GRADE_SYNONYMS: dict[str, str] = {"特級": "特级", "一級": "一级", "二級": "二级", "臨時性": "临时性"}
SEVERITY_SYNONYMS: dict[str, str] = {"較大": "较大", "重大隐患": "重大", "一般隐患": "一般", "较大隐患": "较大"}

PARTY_GOV = "政府主管部门"
PARTY_CUSTOMER = "用电客户"
PARTY_UTILITY = "供电企业"
PARTY_TYPES: tuple[str, ...] = (PARTY_GOV, PARTY_CUSTOMER, PARTY_UTILITY)
