/**
 * An SVG bar chart comparing runs: one panel per table (Japanese, English, MT-Bench), one group of bars per column
 * (tasks, then the average), one colour per run, on a fixed 0–1 axis so charts of different runs compare by eye.
 * Hand-written SVG: no dependencies, viewable in any browser.
 */
import { formatScore, type Report } from "./tables.js";

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const PANEL_HEIGHT = 260;
const PLOT_HEIGHT = 180;
const LEFT = 48;
const BAR_WIDTH = 12;
const GROUP_GAP = 18;

export function reportSvg(report: Report): string {
  const runIds = [...new Set(report.tables.flatMap((t) => t.rows.map((r) => r.runId)))];
  const widest = Math.max(1, ...report.tables.map((t) => t.columns.length + 1));
  const groupWidth = Math.max(1, runIds.length) * BAR_WIDTH + GROUP_GAP;
  const width = LEFT + widest * groupWidth + 20;
  const legendHeight = 20 * runIds.length + 10;
  const height = report.tables.length * PANEL_HEIGHT + legendHeight + 10;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  runIds.forEach((id, i) => {
    const y = 10 + 20 * i;
    parts.push(`<rect x="${LEFT}" y="${y}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${LEFT + 18}" y="${y + 10}">${xml(id)}</text>`);
  });
  report.tables.forEach((table, p) => {
    const top = legendHeight + p * PANEL_HEIGHT + 20;
    const bottom = top + PLOT_HEIGHT;
    parts.push(`<text x="${LEFT}" y="${top - 6}" font-size="13" font-weight="bold">${xml(table.title)}</text>`);
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      const y = bottom - tick * PLOT_HEIGHT;
      parts.push(`<line x1="${LEFT}" x2="${width - 10}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
      parts.push(`<text x="${LEFT - 6}" y="${y + 4}" text-anchor="end">${tick.toFixed(2)}</text>`);
    }
    const groups = [...table.columns.map((c) => ({ key: c.name, label: c.displayName })), { key: null, label: table.averageTitle }];
    groups.forEach((group, g) => {
      const x0 = LEFT + 8 + g * groupWidth;
      runIds.forEach((id, r) => {
        const row = table.rows.find((row) => row.runId === id);
        const value = row ? (group.key === null ? row.average : row.scores[group.key]) : null;
        if (value === null || value === undefined) return;
        const h = Math.max(0, Math.min(1, value)) * PLOT_HEIGHT;
        parts.push(
          `<rect x="${x0 + r * BAR_WIDTH}" y="${(bottom - h).toFixed(1)}" width="${BAR_WIDTH - 2}" height="${h.toFixed(1)}" fill="${COLORS[r % COLORS.length]}"><title>${xml(`${id} · ${group.label}: ${formatScore(value)}`)}</title></rect>`,
        );
      });
      const cx = x0 + (runIds.length * BAR_WIDTH) / 2;
      parts.push(
        `<text x="${cx}" y="${bottom + 14}" text-anchor="end" transform="rotate(-35 ${cx} ${bottom + 14})">${xml(group.label)}</text>`,
      );
    });
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
