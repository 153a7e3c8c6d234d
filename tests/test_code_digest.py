"""The consolidated register's fingerprint covers the code that shapes it: every module the writer imports,
found from the package's files (no hand-kept list), so a change to any of them rebuilds the register."""

from __future__ import annotations

import shutil

from hazardnet.publish import fingerprint
from hazardnet.publish.consolidated import write_consolidated_register

from .test_consolidated_stream import AS_OF, _store
from .test_layout import graph


def _closure(start: str) -> set[str]:
    edges, seen, todo = graph(), set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(edges[m])
    return seen


def test_every_module_the_consolidated_writer_imports_is_in_the_digest():
    modules = _closure("hazardnet.publish.consolidated")
    assert "hazardnet.xlsx.row_height" in modules and "hazardnet.rules" in modules
    digested = {name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
                for name, _path in fingerprint.code_files(fingerprint.code_roots())}
    assert modules - digested == set()


def _copy_packages(tmp_path):
    roots = []
    for root in fingerprint.code_roots():
        shutil.copytree(root, tmp_path / "pkg" / root.name, ignore=shutil.ignore_patterns("__pycache__"))
        roots.append(tmp_path / "pkg" / root.name)
    return roots


def test_changing_row_heights_changes_the_digest(tmp_path):
    roots = _copy_packages(tmp_path)
    assert fingerprint.code_digest(roots) == fingerprint.code_digest(fingerprint.code_roots())
    row_height = roots[0] / "xlsx" / "row_height.py"
    source = row_height.read_text(encoding="utf-8")
    row_height.write_text(source.replace("LINE_FACTOR = 1.55", "LINE_FACTOR = 1.6"), encoding="utf-8")
    changed = fingerprint.code_digest(roots)
    assert changed != fingerprint.code_digest(fingerprint.code_roots())
    row_height.write_text(source, encoding="utf-8")
    assert fingerprint.code_digest(roots) == fingerprint.code_digest(fingerprint.code_roots())


def test_a_new_module_changes_the_digest(tmp_path):
    roots = _copy_packages(tmp_path)
    before = fingerprint.code_digest(roots)
    (roots[0] / "xlsx" / "new_layout.py").write_text("WIDTH = 9\n", encoding="utf-8")
    assert fingerprint.code_digest(roots) != before


def test_the_register_is_rebuilt_after_a_change_to_row_heights(tmp_path, settings, monkeypatch):
    store = _store(tmp_path, 1)
    try:
        path, rewritten = write_consolidated_register(store, settings, AS_OF)
        assert rewritten
        assert write_consolidated_register(store, settings, AS_OF) == (path, False)  # same inputs, same code
        roots = _copy_packages(tmp_path)
        row_height = roots[0] / "xlsx" / "row_height.py"
        row_height.write_text(row_height.read_text(encoding="utf-8") + "\n# taller rows\n", encoding="utf-8")
        # the code digest this process would compute from the changed package
        monkeypatch.setattr(fingerprint, "_CODE_DIGEST", fingerprint.code_digest(roots))
        assert write_consolidated_register(store, settings, AS_OF) == (path, True)
        assert write_consolidated_register(store, settings, AS_OF) == (path, False)
    finally:
        store.dispose()
