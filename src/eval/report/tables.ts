/**
 * The model card's three tables — Japanese tasks + Ja Avg, English tasks + En Avg, Japanese MT-Bench categories
 * + JMT Avg — on the 0–1 scale, one row per run, as data (JSON) and Markdown. An average is only given when the
 * run has every column of its table, because the card's averages are unweighted means of all of them (spec §0).
 */
import type { RunRecord } from "../store/result-store.js";
import type { EvalTask, Suite } from "../types.js";

export type ReportColumn = Pick<EvalTask, "name" | "displayName" | "suite">;

export const TABLES: { suite: Suite; title: string; average: string }[] = [
  { suite: "ja", title: "Japanese tasks", average: "Ja Avg" },
  { suite: "en", title: "English tasks", average: "En Avg" },
  { suite: "mtbench", title: "Japanese MT-Bench", average: "JMT Avg" },
];

export interface TableRow {
  runId: string;
  backendId: string;
  /** Score per task name; null when the run has no score for it. */
  scores: Record<string, number | null>;
  /** Unweighted mean of all columns; null unless every column has a score. */
  average: number | null;
}

export interface ReportTable {
  suite: Suite;
  title: string;
  averageTitle: string;
  columns: { name: string; displayName: string }[];
  rows: TableRow[];
}

export interface Report {
  tables: ReportTable[];
  runs: RunRecord[];
}

/** Builds the three tables from stored runs; `columns` in card order (tasks/index.ts `allTasks()`). Empty tables are left out. */
export function buildReport(runs: RunRecord[], columns: readonly ReportColumn[]): Report {
  const tables: ReportTable[] = [];
  for (const { suite, title, average } of TABLES) {
    const cols = columns.filter((c) => c.suite === suite).map((c) => ({ name: c.name, displayName: c.displayName }));
    const rows = runs
      .filter((run) => cols.some((c) => typeof run.scores[c.name] === "number"))
      .map((run): TableRow => {
        const scores: Record<string, number | null> = {};
        for (const c of cols) scores[c.name] = typeof run.scores[c.name] === "number" ? run.scores[c.name] : null;
        const values = Object.values(scores);
        const complete = values.every((v): v is number => v !== null);
        return {
          runId: run.runId,
          backendId: run.backendId,
          scores,
          average: complete && values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null,
        };
      });
    if (rows.length > 0) tables.push({ suite, title, averageTitle: average, columns: cols, rows });
  }
  return { tables, runs };
}

/** 4 decimals, as the Swallow site shows scores; "–" for a missing one. */
export function formatScore(value: number | null): string {
  return value === null ? "–" : value.toFixed(4);
}

/** Markdown: one section per table, runs as rows, columns in card order, then the average. */
export function reportMarkdown(report: Report): string {
  const out: string[] = [
    "# Evaluation results",
    "",
    "All scores on the 0–1 scale. An average is shown only when every column of its table was run.",
    "",
  ];
  for (const table of report.tables) {
    out.push(`## ${table.title}`, "");
    const header = ["Model", ...table.columns.map((c) => c.displayName), table.averageTitle];
    out.push(`| ${header.map(escapeCell).join(" | ")} |`);
    out.push(`|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
    for (const row of table.rows) {
      const cells = [row.runId, ...table.columns.map((c) => formatScore(row.scores[c.name])), formatScore(row.average)];
      out.push(`| ${cells.map(escapeCell).join(" | ")} |`);
    }
    out.push("");
  }
  if (report.tables.length === 0) out.push("No scores yet.", "");
  return out.join("\n");
}

/** The JSON report: the tables plus each run's settings. */
export function reportJson(report: Report): string {
  return `${JSON.stringify(
    {
      scale: "0-1",
      tables: report.tables.map((t) => ({
        suite: t.suite,
        title: t.title,
        columns: t.columns,
        averageTitle: t.averageTitle,
        rows: t.rows,
      })),
      runs: report.runs,
    },
    null,
    2,
  )}\n`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}
