// WMT's SGML test-set files (newstest2020-*.sgm) read as sacrebleu 1.5.0 turns them into plain text: every line that
// starts with "<seg " becomes the text between the tags, stripped, with whitespace runs collapsed to one space.
// Python's `\s` includes Unicode spaces such as U+3000, so ideographic spaces collapse too.

import { PYTHON_WHITESPACE_CLASS } from "../../metrics/python-compat.js";
import { atLine, dataError, readUtf8, splitLines } from "./errors.js";

const SEG = /<seg[^\n]*?>([^\n]*)<\/seg>/g;
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+`, "gu");
const EDGE_WHITESPACE = new RegExp(`^[${PYTHON_WHITESPACE_CLASS}]+|[${PYTHON_WHITESPACE_CLASS}]+$`, "gu");

/** sacrebleu's `_clean`: strip, then collapse every whitespace run to a single space. */
function clean(s: string): string {
  return s.replace(EDGE_WHITESPACE, "").replace(WHITESPACE_RUN, " ");
}

/**
 * The segments of an SGML file in file order. A file with no `<seg ` line at all is an error (a wrong or truncated
 * download), as is a `<seg ` line without its closing `</seg>`.
 */
export function readSgmSegments(file: string): string[] {
  const segments: string[] = [];
  splitLines(readUtf8(file)).forEach((line, index) => {
    if (!line.startsWith("<seg ")) return;
    if (!line.includes("</seg>")) throw dataError(atLine(file, index + 1), "a <seg> element does not end on its line");
    segments.push(clean(line.replace(SEG, "$1")));
  });
  if (segments.length === 0) throw dataError(file, "no <seg> lines: not a WMT SGML test set");
  return segments;
}
