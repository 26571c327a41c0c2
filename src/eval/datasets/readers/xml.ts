// A small XML parser for dataset files (NIILC's question XML): elements, attributes, text, the five predefined
// entities, numeric character references, CDATA, comments, processing instructions and a DOCTYPE without an
// internal subset. No namespaces, no DTD entities: enough for data files, and every error names the file and line.

import { atLine, dataError, readUtf8 } from "./errors.js";

/** An element: its name, attributes, and children (elements and text, in document order). */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  /** 1-based line of the start tag (for errors raised by the caller). */
  line: number;
}

export type XmlNode = XmlElement | string;

const NAME = /[A-Za-z_:\u00C0-\uFFFF][-A-Za-z0-9_:.\u00B7\u00C0-\uFFFF]*/y;
const PREDEFINED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Parses XML text; `file` only names the source in errors. Returns the root element. */
export function parseXml(source: string, file: string): XmlElement {
  // XML 1.0 §2.11: a parser reports every \r\n and lone \r as \n (expat, which xmltodict uses, does).
  const text = source.replace(/\r\n?/g, "\n");
  let pos = 0;
  let line = 1;
  const fail = (what: string, at = line): never => {
    throw dataError(atLine(file, at), `invalid XML: ${what}`);
  };
  const advance = (to: number) => {
    for (let i = pos; i < to; i++) if (text.charCodeAt(i) === 10) line++;
    pos = to;
  };
  const skipTo = (marker: string, what: string) => {
    const end = text.indexOf(marker, pos);
    if (end < 0) fail(`unterminated ${what}`);
    advance(end + marker.length);
  };
  const skipSpace = () => {
    const m = /[ \t\r\n]*/y;
    m.lastIndex = pos;
    m.exec(text);
    advance(m.lastIndex);
  };
  const readName = (): string => {
    NAME.lastIndex = pos;
    const m = NAME.exec(text);
    if (!m) return fail(`expected a name at ${JSON.stringify(text.slice(pos, pos + 10))}`);
    advance(NAME.lastIndex);
    return m[0];
  };
  const decode = (raw: string, firstLine: number): string => {
    let at = firstLine;
    return raw.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);|&/g, (whole: string, ref: string | undefined, offset: number) => {
      // The line of this reference: the chunk's first line plus the newlines before it.
      at = firstLine + raw.slice(0, offset).split("\n").length - 1;
      if (ref === undefined) return fail("a bare '&' (write &amp;)", at);
      if (ref.startsWith("#")) {
        const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        if (!(code > 0 && code <= 0x10ffff)) fail(`bad character reference ${whole}`, at);
        return String.fromCodePoint(code);
      }
      const value = PREDEFINED[ref];
      return value ?? fail(`unknown entity ${whole}`, at);
    });
  };
  // Skips the prolog and misc content (declaration, comments, PIs, DOCTYPE, whitespace).
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (text.startsWith("<?", pos)) skipTo("?>", "processing instruction");
      else if (text.startsWith("<!--", pos)) skipTo("-->", "comment");
      else if (text.startsWith("<!DOCTYPE", pos)) {
        if (text.indexOf("[", pos) >= 0 && text.indexOf("[", pos) < text.indexOf(">", pos))
          fail("DOCTYPE internal subsets are not supported");
        skipTo(">", "DOCTYPE");
      } else return;
    }
  };
  const parseElement = (): XmlElement => {
    const startLine = line;
    advance(pos + 1); // "<"
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      skipSpace();
      if (text.startsWith("/>", pos)) {
        advance(pos + 2);
        return { name, attributes, children: [], line: startLine };
      }
      if (text[pos] === ">") {
        advance(pos + 1);
        break;
      }
      if (pos >= text.length) fail(`unterminated start tag <${name}>`, startLine);
      const attrName = readName();
      skipSpace();
      if (text[pos] !== "=") fail(`attribute ${attrName} of <${name}> has no value`);
      advance(pos + 1);
      skipSpace();
      const quote = text[pos];
      if (quote !== '"' && quote !== "'") fail(`attribute ${attrName} of <${name}> is not quoted`);
      const end = text.indexOf(quote, pos + 1);
      if (end < 0) fail(`unterminated attribute ${attrName}`);
      const at = line;
      const raw = text.slice(pos + 1, end);
      advance(end + 1);
      if (attrName in attributes) fail(`duplicate attribute ${attrName} on <${name}>`, at);
      attributes[attrName] = decode(raw, at);
    }
    const children: XmlNode[] = [];
    const pushText = (s: string) => {
      if (s === "") return;
      const last = children[children.length - 1];
      if (typeof last === "string") children[children.length - 1] = last + s;
      else children.push(s);
    };
    for (;;) {
      if (pos >= text.length) fail(`<${name}> is never closed`, startLine);
      if (text.startsWith("</", pos)) {
        advance(pos + 2);
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}> (opened on line ${startLine})`);
        skipSpace();
        if (text[pos] !== ">") fail(`bad end tag </${closing}`);
        advance(pos + 1);
        return { name, attributes, children, line: startLine };
      }
      if (text.startsWith("<!--", pos)) skipTo("-->", "comment");
      else if (text.startsWith("<![CDATA[", pos)) {
        const end = text.indexOf("]]>", pos);
        if (end < 0) fail("unterminated CDATA section");
        pushText(text.slice(pos + 9, end));
        advance(end + 3);
      } else if (text.startsWith("<?", pos)) skipTo("?>", "processing instruction");
      else if (text[pos] === "<") children.push(parseElement());
      else {
        const next = text.indexOf("<", pos);
        const end = next < 0 ? text.length : next;
        const at = line;
        const raw = text.slice(pos, end);
        advance(end);
        pushText(decode(raw, at));
      }
    }
  };
  skipMisc();
  if (text[pos] !== "<") fail("no root element");
  const root = parseElement();
  skipMisc();
  if (pos < text.length) fail("content after the root element");
  return root;
}

/** Reads and parses an XML file (strict UTF-8). */
export function readXml(file: string): XmlElement {
  return parseXml(readUtf8(file), file);
}

/** The element children of `element` named `name`, in document order. */
export function childElements(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== "string" && c.name === name);
}

/** The concatenated text content of `element` (its own text and its descendants'), as `itertext()` gives. */
export function textContent(element: XmlElement): string {
  return element.children.map((c) => (typeof c === "string" ? c : textContent(c))).join("");
}
