"""The dashboard reads trials.csv incrementally (each read parses only the complete lines appended
since the last; a shrunk or rewritten table is read again from the start) and holds a bounded
number of trials of a run, saying on its pages how many it left out."""

from __future__ import annotations

import pandas as pd
from dashboard_helpers import append_trial, copy_reference, page_text

from metasparse.analysis import load_results, per_instance
from metasparse.dashboard import RunStore, Unreadable, discover_runs, render
from metasparse.results import TRIALS, write_atomic


def with_id(line: str, trial_id: int, cost: float | None = None) -> str:
    """A row of trials.csv with another trial id (and cost)."""
    fields = line.split(",", 3)
    fields[0] = str(trial_id)
    if cost is not None:
        fields[2] = repr(cost)
    return ",".join(fields)


def test_appended_rows_are_the_only_ones_parsed(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    table = store.trials(0)
    assert table.total == 8 and table.offset == (run / TRIALS).stat().st_size
    assert table.read() == 0  # unchanged: nothing parsed again
    # of trial_instances.csv, the rows of the incumbent (the per-instance page's)
    assert set(store.results(0).instances["trial_id"]) == {"1"}
    size = (run / TRIALS).stat().st_size
    append_trial(run, 0.01)  # the new incumbent
    assert table.read() == (run / TRIALS).stat().st_size - size  # only the new line
    assert store.counts() == [9]
    results, expected = store.results(0), load_results(run)
    pd.testing.assert_frame_equal(results.trials, expected.trials)
    assert set(results.instances["trial_id"]) == {str(t) for t in expected.incumbent["trial_ids"]}
    assert set(results.instances["trial_id"]) < set(expected.instances["trial_id"])
    pd.testing.assert_frame_equal(per_instance(results), per_instance(expected))


def test_a_torn_last_line_waits_for_the_next_read(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    table = store.trials(0)
    row = with_id((run / TRIALS).read_text().splitlines()[-1], 8) + "\n"
    with (run / TRIALS).open("a") as handle:
        handle.write(row[:40])  # a row being written
    assert table.read() == 0 and table.total == 8
    with (run / TRIALS).open("a") as handle:
        handle.write(row[40:])
    assert table.read() == len(row.encode())
    assert table.total == 9 and list(table.rows["trial_id"]) == [str(k) for k in range(9)]
    assert len(store.results(0).trials) == 9


def test_a_shrunk_or_rewritten_table_is_read_again(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    header, *rows = (run / TRIALS).read_text().splitlines(keepends=True)
    assert store.counts() == [8]

    def ids() -> list[int]:
        return list(store.trials(0).rows["trial_id"].astype(int))

    (run / TRIALS).write_text(header + "".join(rows[:5]))  # truncated in place
    assert ids() == [0, 1, 2, 3, 4]
    # replaced (as JobTable writes a table with a new column): longer, the same header
    write_atomic(run / TRIALS, header + "".join(rows[2:]))
    assert ids() == [2, 3, 4, 5, 6, 7]
    # rewritten in place with another header, longer still
    (run / TRIALS).write_text(header.rstrip("\n") + ",extra\n"
                              + "".join(r.rstrip("\n") + ",x\n" for r in rows))
    assert ids() == list(range(8)) and list(store.trials(0).rows["extra"]) == ["x"] * 8


def test_a_run_larger_than_the_cap_shows_which_trials_it_holds(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]), max_trials=8)
    template = (run / TRIALS).read_text().splitlines()[-1]
    with (run / TRIALS).open("a") as handle:  # trials 8-47 with costs 0.9 ... 0.5 ...
        handle.write("".join(with_id(template, k, 0.9 - k / 100) + "\n" for k in range(8, 48)))
    table = store.trials(0)
    assert table.total == 48 and len(table.rows) <= 8
    ids = set(table.rows["trial_id"].astype(int))
    best = set(pd.to_numeric(load_results(run).trials.set_index("trial_id")["cost"])
               .nsmallest(4).index)
    assert best | {46, 47} <= ids  # the best half and the latest quarter
    with (run / TRIALS).open("a") as handle:  # and so on as rows are appended
        handle.write("".join(with_id(template, k, 0.001) + "\n" for k in range(48, 52)))
    table = store.trials(0)
    assert table.total == 52 and len(table.rows) <= 8
    assert {48, 49, 50, 51} <= set(table.rows["trial_id"].astype(int))  # the new best
    held = len(table.rows)
    assert len(store.results(0).trials) == held
    for page in ("trials", "cost", "parallel"):
        assert f"showing {held} of 52 trials" in page_text(render(store, page, 0)), page
    assert "showing" not in page_text(render(RunStore(discover_runs([run])), "cost", 0))


def test_a_row_that_cannot_be_parsed_stops_the_reading_with_why(tmp_path):
    run = copy_reference(tmp_path)
    store = RunStore(discover_runs([run]))
    assert not isinstance(store.results(0), Unreadable)
    row = with_id((run / TRIALS).read_text().splitlines()[-1], 8).replace("relu", "rel\xe9")
    with (run / TRIALS).open("ab") as handle:
        handle.write(row.encode("latin-1") + b"\n")  # not UTF-8
    assert store.counts() == [8]
    assert isinstance(store.results(0), Unreadable)
    text = page_text(render(store, "cost", 0))
    assert "the rows after the first 8 cannot be read" in text and "can't decode byte 0xe9" in text
    assert text.count('"trial_id":') == 8
