"""Isolation as a property: whatever the registers and the directory, no email and no workbook it
carries holds a hazard outside its recipient's scope (docs/domain.md, 可见范围).

Hypothesis generates registers for up to three counties, with 户号 chosen from a small pool so that the
traps are common: the same 户号 in two counties, 户号 differing only by a leading zero or a trailing
digit. It generates a valid directory over them (authorities and supply companies per county or for the
whole prefecture, customers with one or two contact rows, customers of a county without a register).
The monthly bulletin, the risk warnings, the quarterly summaries, the written notices (整改通知书) and the
supply companies' re-inspection reminders are then mailed through the .eml
transport, and every message is read back: its envelope must belong to one scope, and neither its
subject, its body nor any cell of its attachment may name a hazard id or a customer outside that scope.
The same holds for every text message (each directory row has a mobile, written in one of the forms people
use), and a grid risk warning for some counties reaches exactly the mobiles of those counties and of the
prefecture-level rows.
Scopes are computed here from the generated data, never with hazardnet.scope.
"""

from __future__ import annotations

import datetime as dt
import email
import io
import tempfile
from email import policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from hazardnet.delivery.dispatch import Dispatcher
from hazardnet.delivery.mail import EmlFileTransport
from hazardnet.delivery.sms import SmsFileTransport
from hazardnet.jobs.notices import notices
from hazardnet.jobs.reminders import reminders
from hazardnet.publish.bulletin import Period
from hazardnet.publish.grid_warning import grid_warning
from hazardnet.jobs.runner import PlainRunner
from hazardnet.jobs.supervision import supervision
from hazardnet.publish.quarterly import Quarter
from tests.jobs import bulletin_job, grid_warning_job, quarter_sent_job, warnings_job
from hazardnet.settings import load_settings
from hazardnet.store import Store
from tests.test_bulletin import H, record_registers, write_directory_file

AS_OF = dt.date(2026, 11, 15)
COUNTIES = ["格尔木市", "德令哈市", "茫崖市"]
IDS = ["0630100001", "630100001", "06301000011", "0630100002", "6329397166"]
D = dt.date
FOUND = [D(2026, 1, 10), D(2026, 8, 5), D(2026, 11, 3)]
DEADLINES = [None, D(2026, 6, 30), D(2026, 10, 31), D(2027, 3, 31)]
COMPLETED = [D(2026, 9, 1), D(2026, 11, 10)]


def customer_name(k: int) -> str:
    return f"客户甲{k:02d}乙"  # no name is a substring of another


def hazard_token(n: int) -> str:
    return f"HZ{n:03d}Q"


@st.composite
def worlds(draw):
    pairs = draw(st.lists(st.tuples(st.sampled_from(COUNTIES), st.sampled_from(IDS)), min_size=1, max_size=6,
                          unique=True))
    hazards = []
    for n in range(draw(st.integers(1, 12))):
        k = draw(st.integers(0, len(pairs) - 1))
        county, cid = pairs[k]
        found = draw(st.sampled_from(FOUND))
        deadline = draw(st.sampled_from(DEADLINES))
        status = draw(st.sampled_from(["未整改", "整改中", "已整改"]))
        completed = max(found, draw(st.sampled_from(COMPLETED))) if status == "已整改" else None
        hazards.append(H(county, cid, customer_name(k), hazard_token(n), found, draw(st.sampled_from(["一般", "较大", "重大"])),
                         status, deadline=deadline if deadline is None or deadline >= found else None,
                         completed=completed))
    with_register = {h.county for h in hazards}
    listed = [(county, cid, customer_name(k)) for k, (county, cid) in enumerate(pairs) if county in with_register
              and any(h.county == county and h.customer_id == cid for h in hazards)]
    rows = []
    for party in draw(st.lists(st.tuples(st.sampled_from(["政府主管部门", "供电企业"]),
                                         st.sampled_from(COUNTIES + ["全州", ""])), min_size=1, max_size=5)):
        rows.append((party[0], party[1], "", f"{party[1] or '海西州'}{party[0]}{len(rows)}号"))
    if listed:
        for county, cid, name in draw(st.lists(st.sampled_from(listed), max_size=6)):  # repeats: two contacts
            rows.append(("用电客户", county, cid, name))
    for county in draw(st.lists(st.sampled_from([c for c in COUNTIES if c not in with_register] or COUNTIES[:1]),
                                max_size=2)):
        if county not in with_register:  # a customer of a county without any register yet
            rows.append(("用电客户", county, draw(st.sampled_from(IDS)), f"无台账客户{len(rows)}号"))
    directory = [(p, c, cid, org, f"联系人{i}", f"u{i}@x{i}.example.cn", written_mobile(i))
                 for i, (p, c, cid, org) in enumerate(rows)]
    return hazards, directory


def mobile(i: int) -> str:
    return f"139{i:08d}"


def written_mobile(i: int) -> str:
    """Row i's mobile as a person would write it."""
    m = mobile(i)
    return [f"+86 {m[:3]}-{m[3:7]}-{m[7:]}", f"{m[:3]} {m[3:7]} {m[7:]}", m][i % 3]


def texts(folder: Path) -> list[tuple[str, str]]:
    """(mobile, text) of every SMS the file transport wrote."""
    out = []
    for path in sorted(folder.rglob("*.txt")) if folder.exists() else []:
        head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
        out.append((head.splitlines()[0].removeprefix("收件号码："), body))
    return out


def scope_of(row) -> tuple[str, str | None, str | None]:
    party, county, cid = row[0], row[1], row[2]
    county = None if county in ("", "全州") else county
    return ("customer", county, cid) if party == "用电客户" else ("authority", county, None)


def visible(scope, h: H) -> bool:
    kind, county, cid = scope
    if kind == "customer":
        return h.county == county and h.customer_id == cid
    return county is None or h.county == county


def deck_text(content: bytes) -> list[str]:
    from pptx import Presentation

    out = []
    for slide in Presentation(io.BytesIO(content)).slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                out.append(shape.text_frame.text)
            if shape.has_table:
                out.extend(c.text for r in shape.table.rows for c in r.cells)
            if shape.has_chart:
                plot = shape.chart.plots[0]
                out.extend(str(c) for c in plot.categories)
                out.extend(str(x.name) for x in plot.series)
    return out


def docx_text(content: bytes) -> list[str]:
    from docx import Document

    doc = Document(io.BytesIO(content))
    return [p.text for p in doc.paragraphs] + [c.text for t in doc.tables for r in t.rows for c in r.cells]


def message_text(path: Path) -> str:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    parts = [str(msg["Subject"])]
    for part in msg.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        if isinstance(content, str):
            parts.append(content)
        elif (part.get_filename() or "").endswith(".docx"):  # a 督办建议函 or a written notice: every paragraph and cell
            parts.extend(docx_text(content))
        elif (part.get_filename() or "").endswith(".pptx"):  # a briefing deck: every text, cell and chart label
            parts.extend(deck_text(content))
        else:  # an attached workbook: every cell of every sheet
            book = CalamineWorkbook.from_filelike(io.BytesIO(content))
            for name in book.sheet_names:
                for row in book.get_sheet_by_name(name).to_python():
                    parts.extend(str(v) for v in row if v not in ("", None))
    return "\n".join(parts)


def record_customer_files(store: Store, hazards: list[H]) -> None:
    """Each county's customer file (一户一档): its register customers, 一级 with nothing else filled in, so every one
    has problems that the bulletins' 客户档案问题 sheets show (by 户号 and name)."""
    by_county: dict[str, dict[str, str]] = {}
    for h in hazards:
        by_county.setdefault(h.county, {})[h.customer_id] = h.customer_name
    for n, (county, customers) in enumerate(sorted(by_county.items())):
        store.record_file(kind="customers", county=county, file_name="客户档案.xlsx", sha256=f"{n:064x}",
                          as_of=D(2026, 11, 5), outcome="accepted", findings=[], kept_at=None,
                          rows=[{"_row": i + 1, "customer_id": cid, "customer_name": name, "customer_grade": "一级"}
                                for i, (cid, name) in enumerate(sorted(customers.items()))])


PROBLEM = "未签订用电安全“1+1+1”协作书"  # a message of the customer-file problems sheet


def check_world(hazards: list[H], directory: list[tuple], problem_mails: list | None = None) -> tuple[int, int]:
    """Send everything for this world; assert isolation on every message. Returns the mail and SMS counts;
    `problem_mails` collects the messages that carry customer-file problems."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "home", settle_seconds=0)
        settings.home.mkdir(parents=True)
        store = Store(settings.database_url)
        try:
            record_registers(store, hazards, as_of=D(2026, 11, 5))
            record_customer_files(store, hazards)
            write_directory_file(settings.directory_file, directory)
            mailbox = Path(tmp) / "mail"
            transport = EmlFileTransport(mailbox)
            sms = SmsFileTransport(Path(tmp) / "sms")
            bulletin = bulletin_job(settings, store, Period(2026, 11), AS_OF, transport, sms=sms)
            assert not [f for f in bulletin["directory"]["findings"] if f["level"] == "error"], bulletin["directory"]
            warnings_job(settings, store, AS_OF, transport, sms=sms)
            quarter_sent_job(settings, store, Quarter(2026, 3), transport, as_of=AS_OF)
            # supervision: reminders and the 督办建议函 letters (python-docx attachments)
            supervision(settings, AS_OF, runner=PlainRunner(), store=store,
                        sender=Dispatcher(store, settings, transport, sms))
            grid_counties = sorted({h.county for h in hazards})[:1]
            warning = grid_warning(settings, grid_counties, "GRIDTOKEN 330千伏线路检修，请做好应急准备。")
            grid_warning_job(settings, store, warning, transport, SmsFileTransport(Path(tmp) / "grid"), day=AS_OF)
            # the written notices and the reminders to supply companies: their own transports (outbox/mail, outbox/sms)
            issued = notices(settings, AS_OF, store=store, send=True)
            reminders(settings, AS_OF, store=store)
            for n in issued.notices:  # each notice names exactly its customer's own open hazards
                mine = {h.hazard_id for h in hazards if h.county == n["county"] and h.customer_id == n["customer_id"]}
                assert set(n["hazard_ids"]) <= mine and n["hazard_ids"]
        finally:
            store.dispose()
        scope_by_mobile = {mobile(i): scope_of(row) for i, row in enumerate(directory)}
        sent = texts(Path(tmp) / "sms") + texts(settings.outbox / "sms")
        for number, text in sent:
            scope = scope_by_mobile[number]
            assert len(text) <= 140
            for h in hazards:
                if not visible(scope, h):
                    assert h.hazard_id not in text, f"SMS to {scope} shows {h.hazard_id} of {h.county}/{h.customer_id}"
                    assert h.customer_name not in text, f"SMS to {scope} names {h.customer_name}"
        grid = texts(Path(tmp) / "grid")
        assert all("GRIDTOKEN" in t for _, t in grid)
        assert {m for m, _ in grid} == {m for m, sc in scope_by_mobile.items()
                                        if sc[1] is None or sc[1] in grid_counties}
        scope_by_address = {row[5]: scope_of(row) for row in directory}
        messages = [*(sorted(mailbox.rglob("*.eml")) if mailbox.exists() else []),
                    *sorted((settings.outbox / "mail").rglob("*.eml"))]
        for path in messages:
            msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            addresses = [a.addr_spec for a in msg["To"].addresses]
            scopes = {scope_by_address[a] for a in addresses}
            assert len(scopes) == 1, f"one message to several scopes: {addresses}"
            [scope] = scopes
            if "隐患督办建议函" in str(msg["Subject"]):  # a letter goes to authorities and supply companies only
                assert scope[0] == "authority", f"{path.name}: a letter to a customer {addresses}"
            text = message_text(path)
            if problem_mails is not None and PROBLEM in text:
                problem_mails.append((scope, text))
            for h in hazards:
                if not visible(scope, h):
                    assert h.hazard_id not in text, f"{path.name} to {scope} shows {h.hazard_id} of {h.county}/{h.customer_id}"
                    assert h.customer_name not in text, f"{path.name} to {scope} names {h.customer_name}"
        return len(messages), len(sent)


@hyp_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_message_or_attachment_leaves_its_recipients_scope(world):
    mails, texts_sent = check_world(*world)
    event(f"messages: {min(mails, 10)}, SMS: {min(texts_sent, 10)}")


@pytest.mark.slow
@hyp_settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_no_message_or_attachment_leaves_its_recipients_scope_many_examples(world):
    mails, texts_sent = check_world(*world)
    event(f"messages: {min(mails, 10)}, SMS: {min(texts_sent, 10)}")


def test_the_traps_are_mailed_at_all():
    """A fixed world with every trap, so the property is never vacuous: the same 户号 in two counties and
    户号 one zero or one digit apart, each with its own customer contact."""
    hazards = [H("格尔木市", "0630100001", customer_name(0), hazard_token(0), D(2026, 11, 3), "重大", "未整改"),
               H("德令哈市", "0630100001", customer_name(1), hazard_token(1), D(2026, 11, 3), "重大", "未整改"),
               H("格尔木市", "630100001", customer_name(2), hazard_token(2), D(2026, 11, 3), "一般", "未整改"),
               H("格尔木市", "06301000011", customer_name(3), hazard_token(3), D(2026, 8, 5), "较大", "整改中",
                 deadline=D(2026, 9, 1))]
    directory = [("用电客户", h.county, h.customer_id, h.customer_name, "联系人", f"c{i}@x.example.cn",
                  written_mobile(i)) for i, h in enumerate(hazards)]
    directory += [("政府主管部门", "格尔木市", "", "格尔木市能源局", "联系人", "gov@gem.example.cn", written_mobile(4)),
                  ("政府主管部门", "全州", "", "海西州能源局", "联系人", "gov@haixi.example.cn", written_mobile(5))]
    problem_mails: list = []
    mails, texts_sent = check_world(hazards, directory, problem_mails)
    assert mails >= 6 and texts_sent >= 6
    # the customer-file problems reached the bulletins: each customer its own, the authorities their scope's
    scopes = {scope for scope, _ in problem_mails}
    assert {("customer", h.county, h.customer_id) for h in hazards} <= scopes
    assert ("authority", None, None) in scopes and ("authority", "格尔木市", None) in scopes


def test_letters_are_mailed_in_a_world_and_stay_in_their_county():
    """A fixed world where both rungs are reached in two counties: the county letters and the prefecture letter
    are mailed (the property above then holds for them), and no customer gets one."""
    hazards = [H("格尔木市", "0630100001", customer_name(0), hazard_token(0), D(2026, 1, 10), "重大", "未整改",
                 deadline=D(2026, 6, 30)),
               H("德令哈市", "0630100001", customer_name(1), hazard_token(1), D(2026, 1, 10), "一般", "整改中",
                 deadline=D(2026, 10, 1))]
    directory = [("用电客户", h.county, h.customer_id, h.customer_name, "联系人", f"c{i}@x.example.cn",
                  written_mobile(i)) for i, h in enumerate(hazards)]
    directory += [("政府主管部门", "格尔木市", "", "格尔木市能源局", "联系人", "gov@gem.example.cn", written_mobile(2)),
                  ("政府主管部门", "德令哈市", "", "德令哈市能源局", "联系人", "gov@dlh.example.cn", written_mobile(3)),
                  ("供电企业", "德令哈市", "", "德令哈供电公司", "联系人", "util@dlh.example.cn", written_mobile(4)),
                  ("政府主管部门", "全州", "", "海西州能源局", "联系人", "gov@haixi.example.cn", written_mobile(5))]
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "home", settle_seconds=0)
        settings.home.mkdir(parents=True)
        store = Store(settings.database_url)
        try:
            record_registers(store, hazards, as_of=D(2026, 11, 5))
            write_directory_file(settings.directory_file, directory)
            transport = EmlFileTransport(Path(tmp) / "mail")
            out = supervision(settings, AS_OF, runner=PlainRunner(), store=store,
                              sender=Dispatcher(store, settings, transport, SmsFileTransport(Path(tmp) / "sms")))
        finally:
            store.dispose()
        letters = {(x["rung"], x["county"]): (x["hazard_ids"], sorted(w["recipient"] for w in x["recipients"]))
                   for x in out.as_json()["letters"]}
        assert letters == {
            ("county", "格尔木市"): ([hazard_token(0)], ["格尔木市能源局"]),
            ("county", "德令哈市"): ([hazard_token(1)], ["德令哈供电公司", "德令哈市能源局"]),
            ("prefecture", "海西州"): ([hazard_token(0)], ["海西州能源局"])}
    mails, _ = check_world(hazards, directory)
    assert mails >= 5
