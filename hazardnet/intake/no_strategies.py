"""Imported first by the parsers' server (`reader._mp_context`): pandera there without hypothesis.

pandera imports hypothesis, for its data-synthesis strategies, whenever hypothesis is installed — and it is, with
the test tools in requirements.lock. In the parsers' server that cost 0.2–0.3 CPU s per run (`import pandera`'s
builtin checks: ≈0.39 s of `-X importtime` with it, 9 ms without) and ≈6 MB in every parser's capped address
space, for strategies no parser or register writer uses. Here `import hypothesis` fails (a `None` in
`sys.modules` is Python's way of saying "not importable"), so pandera takes its not-installed path. Only the
processes of that server see it: the tests and every other process keep hypothesis."""

import sys

sys.modules.setdefault("hypothesis", None)  # type: ignore[arg-type]
