"""Which design choices of sparse training matter: fANOVA importance, ablation paths, optimizer
comparison, Pareto fronts, validation against the presets, and the report of a run.

    from metasparse.analysis import load_results, fanova, analyze, write_report
    results = load_results("results/quickstart")
    importance = fanova(results.trials, results.space)
    print(importance.main.head(), importance.pairs.head())
    write_report(analyze([results]))           # results/quickstart/report/report.md

Everything takes and returns plain data (DataFrames, dicts of configurations); the command line
(`metasparse analyze`, `metasparse validate`) and the notebooks in analysis/ call the same
functions.
"""

from metasparse._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "_ablation": ["ABLATION_COLUMNS", "ablation_path"],
    "_compare": ["check_comparable", "compare_runs", "convergence", "convergence_summary"],
    "_explore": [
        "budget_correlation", "cost_over_time", "footprint", "incumbent_config",
        "incumbent_differences", "partial_dependence", "pdp_of", "per_instance", "reference_lines",
        "searched_parameters", "surrogate_ablation", "top_searched",
    ],
    "_export": ["export_optuna"],
    "_figures": [
        "figure_ablation", "figure_budget_correlation", "figure_cost_over_time", "figure_footprint",
        "figure_importance", "figure_parallel", "figure_pareto", "figure_partial_dependence",
        "figure_per_instance", "figure_shapley",
    ],
    "_html": ["write_html"],
    "_importance": ["Importance", "fanova", "local_importance"],
    "_pareto": [
        "dominated_by", "evaluate_presets", "pareto_front", "pareto_trials", "reference_point",
    ],
    "_plots": [
        "plot_ablation", "plot_convergence", "plot_importance", "plot_pareto", "plot_per_instance",
        "save_figure",
    ],
    "_analysis": ["Analysis", "analyze"],
    "_report": ["write_report"],
    "_results": ["Results", "find_runs", "load_results", "results_from_tables"],
    "_shapley": ["explain_shapley", "shapley_ablation", "tunability"],
    "_surrogate": ["Surrogate", "fit_surrogate", "select_trials"],
    "_training": ["TrainingCost", "preset_config", "train_runs"],
    "_validate": [
        "VALIDATION_COLUMNS", "never_updated", "validate", "validation_candidates",
        "validation_summary",
    ],
    "_views": ["PARALLEL_PARAMETERS", "PDP_PARAMETERS", "VIEWS", "Ablation", "AnalysisSource",
               "Drawn",
               "NoView", "Source", "View"],
    "_wording": ["instance_title"],
})

__all__ = [
    "ABLATION_COLUMNS",
    "PARALLEL_PARAMETERS",
    "PDP_PARAMETERS",
    "VALIDATION_COLUMNS",
    "VIEWS",
    "Ablation",
    "Analysis",
    "AnalysisSource",
    "Drawn",
    "Importance",
    "NoView",
    "Results",
    "Source",
    "Surrogate",
    "TrainingCost",
    "View",
    "ablation_path",
    "analyze",
    "budget_correlation",
    "check_comparable",
    "compare_runs",
    "convergence",
    "convergence_summary",
    "cost_over_time",
    "dominated_by",
    "evaluate_presets",
    "explain_shapley",
    "export_optuna",
    "fanova",
    "figure_ablation",
    "figure_budget_correlation",
    "figure_cost_over_time",
    "figure_footprint",
    "figure_importance",
    "figure_parallel",
    "figure_pareto",
    "figure_partial_dependence",
    "figure_per_instance",
    "figure_shapley",
    "find_runs",
    "fit_surrogate",
    "footprint",
    "incumbent_config",
    "incumbent_differences",
    "instance_title",
    "load_results",
    "local_importance",
    "never_updated",
    "pareto_front",
    "pareto_trials",
    "partial_dependence",
    "pdp_of",
    "per_instance",
    "plot_ablation",
    "plot_convergence",
    "plot_importance",
    "plot_pareto",
    "plot_per_instance",
    "preset_config",
    "reference_lines",
    "reference_point",
    "results_from_tables",
    "save_figure",
    "searched_parameters",
    "select_trials",
    "shapley_ablation",
    "surrogate_ablation",
    "top_searched",
    "train_runs",
    "tunability",
    "validate",
    "validation_candidates",
    "validation_summary",
    "write_html",
    "write_report",
]
