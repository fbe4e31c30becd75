"""The one owner of a results directory (docs/CONTRACTS.md): what its files are called and hold,
how a configuration is written to and read from a table cell, the incumbent derived from the
trials, the objectives a run may tune, and how files are written safely (atomic replacement, and
append-only job tables that survive a killed process).

`metasparse optimize` writes results directories through this package; `metasparse analyze`,
`validate` and `study` read them through it.

    from metasparse.results import TRIALS, read_trials
    trials = read_trials("results/quickstart/" + TRIALS)   # validated; a torn last line is no row
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_codec": [
        "format_value", "iso_time", "number", "parse_cell", "parse_value", "plain", "timestamp",
    ],
    "_directory": ["default_reference", "find_runs", "read_scenario"],
    "_files": ["JobTable", "csv_text", "read_rows", "read_yaml", "write_atomic"],
    "_incumbent": ["incumbent_history"],
    "_lock": ["LOCK_FILE", "hold_directories", "hold_directory", "output_error"],
    "_markdown": ["format_number", "markdown_table"],
    "_objectives": [
        "FIRST_OBJECTIVES", "OBJECTIVES", "SECOND_OBJECTIVES", "Objective", "crash_costs",
        "objective",
    ],
    "_resumable": ["check_resumable"],
    "_schema": [
        "CONFIG_PREFIX", "INCUMBENT", "INSTANCE_COLUMNS", "INSTANCES", "METRIC_COLUMNS",
        "REFERENCE", "REPORT", "SCENARIO", "TRAINED", "TRAINED_COLUMNS", "TRAJECTORY",
        "TRAJECTORY_COLUMNS", "TRIALS", "VALIDATION", "WARM_START", "config_column",
        "cost_columns", "trial_columns",
    ],
    "_tables": ["read_table", "read_trials"],
})

__all__ = [
    "CONFIG_PREFIX",
    "FIRST_OBJECTIVES",
    "INCUMBENT",
    "INSTANCES",
    "INSTANCE_COLUMNS",
    "LOCK_FILE",
    "METRIC_COLUMNS",
    "OBJECTIVES",
    "REFERENCE",
    "REPORT",
    "SCENARIO",
    "SECOND_OBJECTIVES",
    "TRAINED",
    "TRAINED_COLUMNS",
    "TRAJECTORY",
    "TRAJECTORY_COLUMNS",
    "TRIALS",
    "VALIDATION",
    "WARM_START",
    "JobTable",
    "Objective",
    "check_resumable",
    "config_column",
    "cost_columns",
    "crash_costs",
    "csv_text",
    "default_reference",
    "find_runs",
    "format_number",
    "format_value",
    "hold_directories",
    "hold_directory",
    "incumbent_history",
    "iso_time",
    "markdown_table",
    "number",
    "objective",
    "output_error",
    "parse_cell",
    "parse_value",
    "plain",
    "read_rows",
    "read_scenario",
    "read_table",
    "read_trials",
    "read_yaml",
    "timestamp",
    "trial_columns",
    "write_atomic",
]
