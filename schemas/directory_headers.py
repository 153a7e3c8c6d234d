"""Canonical column headers of the recipient directory (通讯录.xlsx).

Pure data, no imports: the directory validator, the sample-data writer and the blank directory
template all take the column names from here so they cannot drift apart.
"""

# Column order of every directory workbook the software writes; the validator matches these names.
DIRECTORY_HEADERS: tuple[str, ...] = (
    "单位类型",  # 政府主管部门 / 用电客户 / 供电企业
    "县(市)",  # a county of the settings, or 全州 (or blank) for prefecture-level units
    "户号",  # customers only; text, leading zeros kept
    "单位名称",
    "联系人",
    "电子邮箱",  # several addresses separated by "；" (or ";")
    "手机号码",
)

# English identifiers of the same columns, in the same order (for frames and the store).
DIRECTORY_FIELD_NAMES: tuple[str, ...] = (
    "party_type",
    "county",
    "customer_id",
    "org_name",
    "contact",
    "email",
    "mobile",
)

# Columns that must never be blank (户号 is additionally required when 单位类型 is 用电客户).
DIRECTORY_REQUIRED: tuple[str, ...] = ("单位类型", "单位名称", "电子邮箱")
