"""Canonical register fields, their Chinese headers and the header variants seen in real files."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Field:
    """One column of the hazard register."""

    name: str  # English identifier used in code and in the store
    header: str  # canonical Chinese header written in every workbook
    aliases: tuple[str, ...]  # variants (besides the canonical header) accepted on input
    required: bool = False
    kind: str = "text"  # text | date | number | vocab
    width: int = 12  # column width in generated workbooks (Excel character units)


FIELDS: tuple[Field, ...] = (
    Field("county", "县(市)公司", ("所属县市", "单位", "县市公司", "县公司", "所属单位", "county"), width=10),
    Field("customer_id", "户号", ("客户编号", "用户编号", "客户户号", "用户户号", "customer id", "customer no", "account no"), True, width=14),
    Field("customer_name", "客户名称", ("用户名称", "客户名", "customer name", "customer"), True, width=22),
    Field("customer_grade", "重要用户等级", ("客户等级", "用户等级", "重要客户等级", "customer grade", "grade"), True, "vocab", 10),
    Field("industry", "行业类别", ("行业", "所属行业", "industry"), kind="vocab", width=10),
    Field("hazard_id", "隐患编号", ("隐患序号编号", "hazard id", "hazard no"), True, width=16),
    Field("found_date", "发现日期", ("排查日期", "检查日期", "发现时间", "found date", "inspection date"), True, "date", 12),
    Field("description", "隐患描述", ("隐患内容", "存在问题", "隐患情况", "description", "hazard description"), True, width=36),
    Field("category", "隐患类别", ("隐患类型", "隐患分类", "category"), True, "vocab", 12),
    Field("severity", "隐患等级", ("隐患级别", "severity", "level"), True, "vocab", 8),
    Field("consequence", "可能后果", ("可能造成的后果", "consequence", "possible consequence"), width=28),
    Field("suggestion", "整改建议", ("整改措施", "整改意见", "suggestion", "rectification advice"), width=28),
    Field("notice_date", "告知日期", ("书面告知日期", "通知书下达日期", "告知时间", "notice date"), kind="date", width=12),
    Field("deadline", "整改期限", ("计划完成时间", "要求完成时间", "整改时限", "计划完成日期", "deadline"), kind="date", width=12),
    Field("owner", "整改责任人", ("责任人", "客户责任人", "owner", "responsible person"), width=10),
    Field("funds", "整改资金(万元)", ("资金", "整改资金", "资金(万元)", "funds"), kind="number", width=10),
    Field("contingency", "防控措施", ("应急预案", "临时防控措施", "防控措施及应急预案", "contingency"), width=24),
    Field("status", "整改状态", ("治理状态", "状态", "整改情况", "status"), True, "vocab", 8),
    Field("completed_date", "完成日期", ("整改完成时间", "实际完成时间", "完成时间", "整改完成日期", "completed date"), kind="date", width=12),
    Field("gov_supervised", "政府督办", ("是否督办", "是否政府督办", "government supervised"), kind="vocab", width=8),
    Field("reinspect_date", "复查日期", ("验收日期", "复查时间", "验收时间", "reinspection date"), kind="date", width=12),
    Field("reinspector", "复查人", ("验收人", "复查人员", "reinspector"), width=10),
    Field("reinspect_result", "复查结论", ("验收结论", "复查意见", "验收意见", "reinspection result"), kind="vocab", width=8),
    Field("signed_by", "签收人", ("通知书签收人", "客户签收人", "signed by"), width=10),
    Field("remarks", "备注", ("remarks", "note", "notes"), width=16),
    # supervision (督办) and extensions (延期): what the authority did, why a deadline moved and who approved it
    Field("extension_reason", "延期原因", ("延期理由", "延期说明", "extension reason"), width=20),
    Field("extension_approval", "延期批准", ("批准单位", "延期批准单位", "extension approval"), width=12),
    Field("supervisor", "督办单位", ("督办部门", "supervising authority"), width=12),
    Field("supervised_date", "督办日期", ("督办时间", "supervised date"), kind="date", width=12),
    Field("supervision_deadline", "督办期限", ("督办要求完成时间", "督办完成期限", "supervision deadline"), kind="date", width=12),
)

FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
DATE_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "date")
SERIAL_HEADERS: tuple[str, ...] = ("序号", "编号序号", "no", "no.", "序")

# Traditional → simplified for the characters that occur in register headers and vocabularies.
_T2S = str.maketrans({
    "戶": "户", "號": "号", "稱": "称", "戶": "户", "級": "级", "業": "业", "類": "类", "隱": "隐", "患": "患",
    "編": "编", "發": "发", "現": "现", "期": "期", "內": "内", "問": "问", "題": "题", "別": "别", "後": "后",
    "果": "果", "議": "议", "導": "导", "時": "时", "間": "间", "責": "责", "資": "资", "金": "金", "萬": "万",
    "園": "园", "應": "应", "預": "预", "案": "案", "態": "态", "狀": "状", "完": "完", "成": "成", "督": "督",
    "辦": "办", "備": "备", "註": "注", "縣": "县", "單": "单", "位": "位", "險": "险", "查": "查", "檢": "检",
    "書": "书", "告": "告", "知": "知", "計": "计", "劃": "划", "實": "实", "際": "际", "整": "整", "改": "改",
    "措": "措", "施": "施", "結": "结", "論": "论", "製": "制", "設": "设", "備": "备", "運": "运", "營": "营",
    "電": "电", "氣": "气", "護": "护", "臨": "临", "較": "较", "費": "费", "經": "经", "濟": "济", "錄": "录",
    "聯": "联", "繫": "系", "郵": "邮", "箱": "箱", "構": "构", "織": "织", "機": "机", "關": "关", "屬": "属",
    "場": "场", "銷": "销", "閉": "闭", "環": "环", "為": "为", "對": "对", "與": "与", "處": "处", "數": "数",
    "說": "说", "明": "明", "據": "据", "體": "体", "項": "项", "總": "总", "報": "报", "審": "审", "核": "核",
    "填": "填", "號": "号", "碼": "码", "務": "务", "範": "范", "圍": "围", "險": "险", "災": "灾",
    # the customer file (一户一档) and drills workbook
    "試": "试", "驗": "验", "變": "变", "線": "线", "協": "协", "簽": "签", "訂": "订", "負": "负", "參": "参",
    "練": "练", "質": "质", "話": "话", "絡": "络", "種": "种", "須": "须", "點": "点",
})


def normalize_label(text: object) -> str:
    """Fold a header or vocabulary cell into a comparable key.

    NFKC turns full-width brackets, letters and spaces into ASCII; traditional characters become
    simplified; whitespace (including line breaks inside a header cell) and bracket style vanish.
    """
    if text is None:
        return ""
    if type(text) is str:
        return _normalize_text(text)
    return _normalize_text(str(text))


@lru_cache(maxsize=8192)
def _normalize_text(text: str) -> str:
    """normalize_label of a string, each distinct one folded once per process: the same headers and vocabulary
    words come back in every register a parser process reads."""
    s = unicodedata.normalize("NFKC", text).translate(_T2S).lower()
    s = re.sub(r"[\s\u3000]+", "", s)
    s = s.replace("（", "(").replace("）", ")").replace("【", "[").replace("】", "]")
    s = s.replace("*", "").replace("★", "").replace(":", "").replace("：", "")
    return s


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for f in FIELDS:
        for label in (f.header, *f.aliases):
            key = normalize_label(label)
            index[key] = f.name
            # "整改资金(万元)" and "整改资金" both match; so does a header with its unit removed.
            index.setdefault(re.sub(r"\(.*?\)", "", key), f.name)
    return index


HEADER_INDEX: dict[str, str] = _alias_index()


def match_header(text: object) -> str | None:
    """Return the field name a header cell denotes, or None when it is not a register header."""
    key = normalize_label(text)
    if not key:
        return None
    if key in HEADER_INDEX:
        return HEADER_INDEX[key]
    stripped = re.sub(r"\(.*?\)", "", key)
    return HEADER_INDEX.get(stripped)
