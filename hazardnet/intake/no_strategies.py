"""Imported first by the parsers' server (`reader._mp_context`): pandera there without hypothesis.

pandera imports hypothesis, for its data-synthesis strategies, whenever hypothesis is installed — and it is, with
the test tools in requirements.lock. In the parsers' server that was ≈6 MB in every parser's capped address space
(the server's RSS 103 → 97 MB) and a little CPU (`-X importtime` of pandera's builtin checks 0.39 s → 9 ms; the
server's CPU from /proc, 4 alternating starts: 1.015 → 0.985 s — within noise), for strategies no parser or
register writer uses. Here `import hypothesis` fails (a `None` in `sys.modules` is Python's way of saying "not
importable"), so pandera takes its not-installed path. Only the
processes of that server see it: the tests and every other process keep hypothesis."""

import sys

sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
