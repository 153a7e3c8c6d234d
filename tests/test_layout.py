"""The house's layout: stage folders, imports in one direction, no import cycle, Prefect only at the front,
and importing the package leaves the libraries it uses as they were.

The import graph is read from the source (ast), so imports inside functions count as much as the ones at
the top of a module."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import xlsxwriter

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hazardnet", "flows", "schemas")

# Layers, from the front to the bottom: a module may import its own layer's modules or any lower layer's.
# cli → flows → jobs → publish → delivery → intake → {store, xlsx, settings, locks, failpoints} → schemas
LAYERS = [
    ("hazardnet.cli", "hazardnet.__main__"),
    ("flows",),
    ("hazardnet.jobs",),
    ("hazardnet.publish",),
    ("hazardnet.delivery",),
    ("hazardnet.intake",),
    ("hazardnet.store", "hazardnet.xlsx", "hazardnet.settings", "hazardnet.home_lock", "hazardnet.failpoints",
     "hazardnet.runtime", "hazardnet"),
    ("schemas",),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an imported name lives in (the longest module prefix), or None if not ours."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `module` imports, anywhere in its source (package __init__ files are
    empty, so importing `a.b.c` is counted as an edge to `a.b.c` only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            target = resolve(name, modules)
            if target and target != module and not (modules[target].name == "__init__.py"
                                                      and any(n.startswith(target + ".") for n in names)):
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    assert rank is not None, f"{module} belongs to no layer: add it to LAYERS"
    return rank


def test_hazardnet_is_a_few_modules_and_the_stages_as_folders():
    top = sorted(p.name for p in (ROOT / "hazardnet").glob("*.py"))
    assert len(top) <= 8, top
    for stage in ("intake", "publish", "delivery", "xlsx", "cli"):
        assert (ROOT / "hazardnet" / stage / "__init__.py").is_file(), stage


def test_no_import_cycle_among_the_projects_modules():
    edges = graph()
    # Tarjan's strongly connected components: any component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in edges:
        if v not in index:
            visit(v)
    assert cycles == []


def test_imports_run_one_way():
    backwards = sorted(f"{m} → {t}" for m, targets in graph().items() for t in targets if layer_of(t) < layer_of(m))
    assert backwards == []


def test_only_the_front_knows_prefect():
    offenders = []
    for module, path in project_modules().items():
        if module.startswith(("hazardnet.cli", "flows")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{module}: {n}" for n in names if n.split(".")[0] in ("prefect", "flows")]
    assert offenders == []


# What sends: publish/ renders (documents, subjects, bodies, SMS texts) and hands them to the dispatcher.
SENDING = ("hazardnet.delivery.ledger", "hazardnet.delivery.mail", "hazardnet.delivery.sms")
# A hand-written retry loop ("for attempt in range(retries + 1)"): the runner's one policy retries I/O steps.
RETRY_LOOP = re.compile(r"\brange\(\s*[\w.]*retr", re.IGNORECASE)
RETRY_HOME = "hazardnet/jobs/runner.py"


def renderers_that_send(edges: dict[str, set[str]]) -> list[str]:
    """Edges from publish/ to the ledger, the mail or the SMS transports."""
    return sorted(f"{m} → {t}" for m, targets in edges.items() if m.startswith("hazardnet.publish.")
                  for t in targets if t in SENDING)


def retry_loops(sources: dict[str, str]) -> list[str]:
    """`path:line` of every hand-written retry loop outside the runner."""
    return [f"{path}:{n}" for path, text in sources.items() if path != RETRY_HOME
            for n, line in enumerate(text.splitlines(), 1) if RETRY_LOOP.search(line)]


def test_publish_renders_and_never_sends():
    assert renderers_that_send(graph()) == []


def test_one_retry_policy_no_hand_written_retry_loop():
    sources = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in project_modules().values()}
    assert retry_loops(sources) == []


def test_the_layout_checks_can_fail():
    """The checks above see what they claim to: a known edge, a known layer order, a renderer that would send,
    a retry loop where it does not belong."""
    edges = graph()
    assert renderers_that_send({**edges, "hazardnet.publish.x": {"hazardnet.delivery.mail", "hazardnet.xlsx.style"}}) \
        == ["hazardnet.publish.x → hazardnet.delivery.mail"]
    assert "hazardnet.delivery.mail" in edges["hazardnet.jobs.wiring"]  # the real graph sees these modules
    loop = "def send(retries):\n    for attempt in range(retries + 1):\n        pass\n"
    assert retry_loops({"hazardnet/publish/x.py": loop, RETRY_HOME: loop}) == ["hazardnet/publish/x.py:2"]
    assert retry_loops({"a.py": "for i in range(self.max_retries):"}) == ["a.py:1"]
    assert "hazardnet.publish.consolidated" in edges["hazardnet.jobs.ingest"]
    assert "hazardnet.jobs.ingest" in edges["flows.ingest"]
    assert "hazardnet.xlsx.style" in edges["hazardnet.publish.bulletin"]
    assert layer_of("hazardnet.cli.demo") < layer_of("flows.ingest") < layer_of("hazardnet.publish.bulletin")
    assert layer_of("hazardnet.delivery.ledger") < layer_of("hazardnet.intake.transaction") < layer_of("schemas.vocab")


def test_importing_every_module_leaves_xlsxwriter_unpatched():
    """In a fresh interpreter: import every module of the project, then xlsxwriter writes through zipfile's own
    ZipFile as it always does; our parallel deflate is used only by our workbooks (ParallelZipWorkbook)."""
    code = ("import importlib, zipfile, xlsxwriter.workbook\n"
            f"for m in {sorted(m for m in project_modules() if not m.endswith('__main__'))!r}:\n"
            "    importlib.import_module(m)\n"
            "from hazardnet.xlsx.parallel_zip import ParallelZipWorkbook, ParallelZipFile\n"
            "assert xlsxwriter.workbook.ZipFile is zipfile.ZipFile, xlsxwriter.workbook.ZipFile\n"
            "assert ParallelZipWorkbook._store_workbook.__globals__['ZipFile'] is ParallelZipFile\n"
            "print('unpatched')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "unpatched", proc.stderr[-2000:]


@pytest.mark.parametrize("module", ["hazardnet.xlsx.fast_table", "hazardnet.xlsx.parallel_zip"])
def test_xlsxwriter_is_the_version_its_internals_were_checked_against(module):
    import importlib

    checked = importlib.import_module(module).CHECKED_XLSXWRITER
    assert xlsxwriter.__version__ == checked, (
        f"{module} relies on xlsxwriter internals checked against {checked}, but {xlsxwriter.__version__} is "
        f"installed: re-run tests/test_fast_table.py and tests/test_parallel_zip.py against it, read the "
        f"internals named in {module}'s docstring, then update CHECKED_XLSXWRITER")


# ---- each rule and each table in one place ------------------------------------------------------------
def _calls_named(name: str) -> list[str]:
    """Modules (with line) that call something `.name(...)` or `name(...)`."""
    found = []
    for module, path in project_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if called == name:
                    found.append(f"{module}:{node.lineno}")
    return found


def _definitions() -> dict[str, list[str]]:
    """Top-level function name -> the modules that define it."""
    defined: dict[str, list[str]] = {}
    for module, path in project_modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.setdefault(node.name, []).append(module)
    return defined


def test_the_schema_is_created_once_and_every_table_lives_in_the_store():
    [create_all] = _calls_named("create_all")
    assert create_all.startswith("hazardnet.store:")
    tables = set()
    for module, path in project_modules().items():
        source = path.read_text(encoding="utf-8")
        if "sqlalchemy" not in source:
            continue  # a Table of rich or of a document is no store table
        tables |= {module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                   and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "Table"}
    assert tables == {"hazardnet.store"}


def test_the_derived_facts_and_the_text_width_are_each_written_once():
    defined = _definitions()
    for name in ("is_overdue", "days_overdue", "days_open", "is_absent", "done_on", "remediated_in", "in_scope",
                 "scoped", "scope_label", "with_derived"):
        assert [m for m in defined.get(name, []) if m != "hazardnet.publish.quarterly"] == ["hazardnet.rules"], name
    for name in ("text_width", "text_units", "char_units", "shorten"):
        assert defined.get(name) == ["hazardnet.xlsx.text_width"], name
    # the copies this replaced: the deck's own character model, style.py's CJK count
    sources = {m: p.read_text(encoding="utf-8") for m, p in project_modules().items()}
    assert [m for m, s in sources.items() if "east_asian_width" in s or "0x2E80" in s] == []


def test_docstrings_cite_docs_that_exist():
    cited = set()
    for path in [*project_modules().values(), *ROOT.glob("tests/*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "DOMAIN" + ".md" not in text, path  # a file this repository does not have
        cited |= set(re.findall(r"docs/[\w./-]+\.md", text))
    assert "docs/domain.md" in cited
    assert [c for c in cited if not (ROOT / c).is_file()] == []
