/** Writes report.md, report.json and chart.svg into a directory (each written atomically: temp file + rename). */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { reportSvg } from "./chart.js";
import { reportJson, reportMarkdown, type Report } from "./tables.js";

export function writeReport(dir: string, report: Report): { markdown: string; json: string; svg: string } {
  mkdirSync(dir, { recursive: true });
  const files = { markdown: path.join(dir, "report.md"), json: path.join(dir, "report.json"), svg: path.join(dir, "chart.svg") };
  atomicWrite(files.markdown, reportMarkdown(report));
  atomicWrite(files.json, reportJson(report));
  atomicWrite(files.svg, reportSvg(report));
  return files;
}

function atomicWrite(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, file);
}
