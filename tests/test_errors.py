"""The one way an exception becomes a line of a message (metasparse.errors.one_line)."""

from __future__ import annotations

from metasparse.errors import one_line


def test_an_exception_becomes_one_line_with_its_type_cut_to_its_limit():
    error = ValueError("cannot parse\n  line 3:\tbad value\n")
    assert one_line(error) == "ValueError: cannot parse line 3: bad value"
    assert one_line(KeyError()) == "KeyError"
    long = one_line(RuntimeError("x" * 1000), limit=40)
    assert len(long) == 40 and long.startswith("RuntimeError: xxx") and long.endswith("...")
