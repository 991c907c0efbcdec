"""The dev suite's tables (``suite.md``/``suite.json``) from its run records;
``bench_suite.py`` runs the fits and calls these.

Each record is one fit: ``label``, ``series``, ``model``, ``seed``, ``smape``,
``mase``, ``fit_seconds`` and what the run saw (``fitted``, ``params``,
``load_average_before_fit``); a record with ``failed`` is left out of every table.
"""

from __future__ import annotations

import json
import statistics

OURS = ("gru", "lstm")
#: a machine whose 1-minute load average is above its core count is shared
LOADED = 1.0
#: the series whose runs get a table of every seed, and their headings
SEED_SERIES = {"airline": "airline", "m4_weekly": "M4 Weekly"}
#: the order of the reference rows under ours
REFERENCE_ORDER = ("autoets", "theta", "snaive", "naive")


def _fmt(value, digits=3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mean(values):
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _contestant(r) -> str:
    """References do not depend on the label: one row each."""
    return r["model"] if r["model"] not in OURS else f"{r['model']}, {r['label']}"


def summarise(records: list[dict], dev_series) -> dict:
    """Per series and contestant: means over seeds; per contestant: means over the
    dev-suite series ``dev_series`` (M4 apart) and the MASE ratio to AutoETS."""
    groups: dict = {}
    for r in records:
        if "failed" in r:
            continue
        groups.setdefault((r["series"], _contestant(r)), []).append(r)
    per_series = []
    for (series, contestant), rs in sorted(groups.items()):
        row = {
            "series": series,
            "contestant": contestant,
            "model": rs[0]["model"],
            "label": rs[0]["label"] if rs[0]["model"] in OURS else None,
            "params": rs[0].get("params"),
            "seeds": [r["seed"] for r in rs],
            "smape": _mean(r["smape"] for r in rs),
            "smape_all": [r["smape"] for r in rs],
            "mase": _mean(r["mase"] for r in rs),
            "mase_all": [r["mase"] for r in rs],
            "fit_seconds": _mean(r["fit_seconds"] for r in rs),
            "fitted": [r.get("fitted") for r in rs],
            "load_average_before_fit": [r.get("load_average_before_fit") for r in rs],
        }
        per_series.append(row)
    ets = {r["series"]: r["mase"] for r in per_series if r["contestant"] == "autoets"}
    overall = []
    contestants = sorted({r["contestant"] for r in per_series})
    for contestant in contestants:
        rows = [
            r
            for r in per_series
            if r["contestant"] == contestant and r["series"] in dev_series
        ]
        if not rows:
            continue
        common = [r for r in rows if r["series"] in ets]
        ets_mean = _mean(ets[r["series"]] for r in common)
        mean_mase = _mean(r["mase"] for r in rows)
        overall.append(
            {
                "contestant": contestant,
                "series": [r["series"] for r in rows],
                "mean_mase": mean_mase,
                "mean_smape": _mean(r["smape"] for r in rows),
                "mean_fit_seconds": _mean(r["fit_seconds"] for r in rows),
                "ratio_to_autoets": (
                    _mean(r["mase"] for r in common) / ets_mean
                    if common and ets_mean
                    else None
                ),
            }
        )
    return {"per_series": per_series, "overall": overall}


def markdown(results: dict, command: str) -> str:
    loads = [
        load[0]
        for r in results["records"]
        for load in [r.get("load_average_before_fit")]
        if load
    ]
    cpus = results["machine"].get("cpu_count") or 1
    loaded = bool(loads) and max(loads) > LOADED * cpus
    lines = [
        "# Dev suite: short real series",
        "",
        "Reproduce (one process, one torch thread; each label's runs appended to "
        "`suite_runs.jsonl`, this table built from the latest record per label, "
        "series, contestant and seed):",
        "",
        "```",
        command,
        "```",
        "",
        f"Held out: the last {results['horizon']} steps of each series (one season of the "
        "monthly ones). co2: statsmodels' weekly series as monthly means, the 5 "
        "empty months filled by linear interpolation. MASE is scaled by the "
        "in-sample seasonal naive (m = 12 monthly, 1 yearly); the references get "
        "the same season. Ours: mean over seeds (range in brackets).",
        "",
        f"Load average (1 min) before the fits: {min(loads) if loads else '—'} to "
        f"{max(loads) if loads else '—'} on {cpus} CPUs"
        + (
            ": **timings were taken on a loaded, shared machine** and are slower "
            "than on a quiet one."
            if loaded
            else "."
        ),
        "",
        *[f"{note}\n" for note in results.get("notes", [])],
        "## Mean over the dev-suite series",
        "",
        "Over the series each contestant ran (a variant run on fewer series is "
        "compared with AutoETS on those).",
        "",
        "| contestant | series | mean MASE | MASE / AutoETS | mean sMAPE | "
        "mean fit s |",
        "|---|---|---|---|---|---|",
    ]
    for row in sorted(results["overall"], key=lambda r: r["mean_mase"]):
        lines.append(
            f"| {row['contestant']} | {len(row['series'])} | "
            f"{_fmt(row['mean_mase'])} | "
            f"{_fmt(row['ratio_to_autoets'], 2)} | {_fmt(row['mean_smape'], 2)} | "
            f"{_fmt(row['mean_fit_seconds'], 1)} |"
        )
    lines += [
        "",
        "## Per series",
        "",
        "| series | contestant | sMAPE | MASE | fit s | window_length_ / "
        "seasonal_period_ / baseline_ |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["per_series"]:

        def cell(key, digits, row=row):
            text = _fmt(row[key], digits)
            spread = row[f"{key}_all"]
            if len(spread) > 1:
                text += f" [{min(spread):.{digits}f}–{max(spread):.{digits}f}]"
            return text

        fitted = row["fitted"][0] or {}
        choice = (
            " / ".join(
                str(fitted.get(k, "—"))
                for k in ("window_length_", "seasonal_period_", "baseline_")
            )
            if fitted
            else ""
        )
        lines.append(
            f"| {row['series']} | {row['contestant']} | {cell('smape', 2)} | "
            f"{cell('mase', 3)} | {_fmt(row['fit_seconds'], 1)} | {choice} |"
        )
    lines += seed_markdown(results.get("seed_tables", {}))
    labels = {}
    for r in results["records"]:
        if r["model"] in OURS:
            labels.setdefault(r["label"], r.get("params"))
    lines += ["", "## Labels (parameters of ours beside random_state)", ""]
    for label, params in labels.items():
        lines.append(f"- `{label}`: `{json.dumps(params)}`")
    lines += [
        "",
        f"Machine: {json.dumps(results['machine'])}",
        "",
    ]
    return "\n".join(lines)


def seed_tables(records: list[dict], series_names=tuple(SEED_SERIES)) -> dict:
    """Per series of ``series_names`` with runs: the seeds of ours present, one row
    per contestant of ours (the sMAPE of each seed, their mean and spread, mean MASE
    and fit seconds) and one row per reference."""
    tables = {}
    for series in series_names:
        runs = [r for r in records if r["series"] == series and "failed" not in r]
        if not runs:
            continue
        groups: dict = {}
        for r in runs:
            groups.setdefault(_contestant(r), []).append(r)
        ours, references = [], []
        for contestant, rs in sorted(groups.items()):
            if rs[0]["model"] not in OURS:
                r = rs[-1]
                references.append(
                    {
                        "contestant": contestant,
                        "smape": r["smape"],
                        "mase": r["mase"],
                        "fit_seconds": r["fit_seconds"],
                    }
                )
                continue
            rs = sorted(rs, key=lambda r: r["seed"])
            smapes = [r["smape"] for r in rs]
            ours.append(
                {
                    "contestant": contestant,
                    "model": rs[0]["model"],
                    "label": rs[0]["label"],
                    "per_seed": [
                        {"seed": r["seed"], "smape": r["smape"], "mase": r["mase"]}
                        for r in rs
                    ],
                    "mean_smape": _mean(smapes),
                    "spread_smape": max(smapes) - min(smapes)
                    if len(smapes) > 1
                    else None,
                    "mean_mase": _mean(r["mase"] for r in rs),
                    "mean_fit_seconds": _mean(r["fit_seconds"] for r in rs),
                }
            )
        order = {name: i for i, name in enumerate(REFERENCE_ORDER)}
        references.sort(
            key=lambda r: (order.get(r["contestant"], len(order)), r["contestant"])
        )
        seeds = sorted({s["seed"] for row in ours for s in row["per_seed"]})
        tables[series] = {"seeds": seeds, "ours": ours, "references": references}
    return tables


def seed_markdown(tables: dict) -> list[str]:
    """The lines of the section "Seeds: airline and M4 Weekly", each table after a
    blank line (none without runs)."""
    if not tables:
        return []
    lines = [
        "",
        "## Seeds: airline and M4 Weekly",
        "",
        "sMAPE of each seed of ours (— where a label did not run that seed), the "
        "mean and spread (max − min) of the sMAPE over the seeds it ran, mean MASE "
        "and mean fit seconds; the references under ours.",
    ]
    for series, table in tables.items():
        seeds = table["seeds"]
        blank = " |" * len(seeds)
        lines += [
            "",
            f"### {SEED_SERIES.get(series, series)}",
            "",
            "| contestant |"
            + "".join(f" seed {s} |" for s in seeds)
            + " mean sMAPE | spread | mean MASE | mean fit s |",
            "|---|" + "---|" * len(seeds) + "---|---|---|---|",
        ]
        for row in table["ours"]:
            by_seed = {s["seed"]: s["smape"] for s in row["per_seed"]}
            cells = "".join(f" {_fmt(by_seed.get(s), 2)} |" for s in seeds)
            lines.append(
                f"| {row['contestant']} |{cells} {_fmt(row['mean_smape'], 2)} | "
                f"{_fmt(row['spread_smape'], 2)} | {_fmt(row['mean_mase'])} | "
                f"{_fmt(row['mean_fit_seconds'], 1)} |"
            )
        for row in table["references"]:
            lines.append(
                f"| {row['contestant']} |{blank} {_fmt(row['smape'], 2)} | | "
                f"{_fmt(row['mase'])} | {_fmt(row['fit_seconds'], 1)} |"
            )
    return lines
