/**
 * lm-eval v0.4.2 answer filters (lm_eval/filters/extraction.py, selection.py) for one response. `take_first` is
 * implicit: every request here has exactly one response.
 */
import { pythonRegex } from "../../metrics/index.js";
import { pyStrip } from "./python-text.js";

/** lm-eval's RegexFilter fallback when nothing matches. */
export const REGEX_FALLBACK = "[invalid]";

export interface RegexFilterOptions {
  /** Index into Python's `re.findall` result list (0 = first match, -1 = last). */
  groupSelect?: number;
  fallback?: string;
}

/**
 * `RegexFilter`: `re.findall(pattern, resp)`, pick `group_select`, for tuple matches (several groups) the first
 * non-empty group, then `.strip()`. Patterns are the YAMLs' Python patterns, translated by the metrics' Python-regex
 * port (Python's `.` excludes only "\n"; JS's also excludes "\r", U+2028 and U+2029).
 */
export function regexFilter(response: string, pattern: string, options: RegexFilterOptions = {}): string {
  const regex = pythonRegex(pattern);
  const matches = findall(regex, response);
  if (matches.length === 0) return options.fallback ?? REGEX_FALLBACK;
  const select = options.groupSelect ?? 0;
  const picked = matches[select < 0 ? matches.length + select : select];
  if (picked === undefined) throw new Error(`regex filter group_select ${select} is out of range`);
  const text = Array.isArray(picked) ? (picked.find((g) => g !== "") ?? "") : picked;
  return pyStrip(text);
}

/**
 * Python `re.findall`: the whole match when the pattern has no group, group 1 when it has one, a tuple of all groups
 * otherwise (unmatched groups are ""). Empty matches count, and the scan moves one character past them.
 */
function findall(regex: RegExp, s: string): (string | string[])[] {
  const out: (string | string[])[] = [];
  for (const m of s.matchAll(regex)) {
    const groups = m.slice(1).map((g) => g ?? "");
    if (groups.length === 0) out.push(m[0]);
    else if (groups.length === 1) out.push(groups[0]);
    else out.push(groups);
  }
  return out;
}

/** `remove_whitespace` (WhitespaceFilter): drops ONE leading space, nothing else. */
export function removeLeadingSpace(response: string): string {
  return response.startsWith(" ") ? response.slice(1) : response;
}
