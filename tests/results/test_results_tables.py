"""The append-only job tables and the objectives table of metasparse.results."""

from __future__ import annotations

import pytest

from metasparse.results import (
    FIRST_OBJECTIVES,
    METRIC_COLUMNS,
    OBJECTIVES,
    SECOND_OBJECTIVES,
    JobTable,
    crash_costs,
    read_rows,
)


def test_rows_are_appended_after_one_header_and_resume_skips_their_keys(tmp_path):
    table = JobTable(tmp_path / "sub" / "runs.csv", key="key")
    assert table.rows() == [] and table.keys() == set() and table.header() == []
    table.append([{"key": "a", "x": 1}, {"key": "a", "x": 2}])
    table.append([{"key": "b", "x": 3.5}])
    assert table.path.read_text() == "key,x\na,1\na,2\nb,3.5\n"
    assert table.keys() == {"a", "b"}
    assert [r["x"] for r in table.rows()] == ["1", "2", "3.5"]
    assert list(table.frame()["x"]) == [1.0, 2.0, 3.5]


def test_a_torn_last_line_is_no_row_for_any_reader_and_the_next_append_drops_it(tmp_path):
    table = JobTable(tmp_path / "runs.csv", key="key", line_end="\r\n")
    table.append([{"key": "a", "status": "success"}])
    finished = table.path.read_bytes()
    assert finished == b"key,status\r\na,success\r\n"
    table.path.write_bytes(finished + b"b,succ")  # killed in the middle of a write
    assert table.keys() == {"a"}
    assert read_rows(table.path) == [{"key": "a", "status": "success"}]
    assert list(table.frame()["key"]) == ["a"]
    assert table.path.read_bytes() == finished + b"b,succ"  # readers leave the file alone
    table.append([{"key": "b", "status": "success"}])
    assert table.path.read_bytes() == finished + b"b,success\r\n"


def test_a_new_column_rewrites_the_table_once_and_fixed_columns_refuse_it(tmp_path):
    table = JobTable(tmp_path / "runs.csv")
    table.append([{"key": "a", "x": 1}])
    table.append([{"key": "b", "x": 2, "y": "new"}])
    assert table.path.read_text() == "key,x,y\na,1,\nb,2,new\n"
    fixed = JobTable(tmp_path / "fixed.csv", key="id", columns=["id", "x"])
    fixed.append([{"id": "0", "x": "1"}])
    with pytest.raises(ValueError, match="lacks"):
        fixed.append([{"id": "1", "x": "1", "y": "2"}])
    assert fixed.path.read_text() == "id,x\n0,1\n"


def test_every_objective_reads_a_column_that_the_results_tables_hold():
    from metasparse.optimize._worker import FS_METRICS, METRICS

    for name, objective in OBJECTIVES.items():
        assert objective.name == name and objective.direction == "minimize"
        if name == "fs_error":  # a first objective only: the `cost` column holds it
            assert objective.metric in FS_METRICS and name in FIRST_OBJECTIVES
            assert name not in SECOND_OBJECTIVES
            continue
        assert objective.metric in METRIC_COLUMNS and objective.metric in METRICS
    assert OBJECTIVES["train_time"].metric == "wall_time_s"
    assert OBJECTIVES["inference_density"].metric == "density"
    assert SECOND_OBJECTIVES == ("density", "inference_density", "train_flops", "train_time")


def test_crash_costs_take_the_scenario_s_then_each_objective_s_own():
    assert crash_costs(["val_error", "density"], [0.9]) == (0.9, 1.0)
    assert crash_costs(["val_error", "train_flops"], [0.9]) == (0.9, None)
    assert crash_costs(["val_error", "train_time"], [0.9, 5.0]) == (0.9, 5.0)
