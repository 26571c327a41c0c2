/**
 * File-name patterns for `--include` / `--exclude`, with the semantics of huggingface_hub's
 * allow_patterns / ignore_patterns (Python's fnmatch): `*` matches any run of characters including `/`,
 * `?` one character, `[abc]` / `[!abc]` a set; a pattern ending in `/` matches everything below it.
 * Matching is case-sensitive and covers the whole path.
 */
export function globToRegExp(pattern: string): RegExp {
  const source = pattern.endsWith("/") ? `${pattern}*` : pattern;
  let out = "";
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "*") {
      out += ".*";
    } else if (c === "?") {
      out += ".";
    } else if (c === "[") {
      // As in fnmatch, a `]` right after `[` or `[!` belongs to the set.
      let j = i + 1;
      if (source[j] === "!") j++;
      if (source[j] === "]") j++;
      const close = source.indexOf("]", j);
      if (close < 0) {
        out += "\\[";
        continue;
      }
      let set = source.slice(i + 1, close);
      const negated = set.startsWith("!");
      if (negated) set = set.slice(1);
      out += `[${negated ? "^" : ""}${set.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else {
      out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
  }
  return new RegExp(`^${out}$`, "s");
}

/** A file is kept if it matches some include pattern (or none are given) and no exclude pattern. */
export function fileFilter(include: readonly string[], exclude: readonly string[]): (path: string) => boolean {
  const includes = include.map(globToRegExp);
  const excludes = exclude.map(globToRegExp);
  return (path) => (includes.length === 0 || includes.some((re) => re.test(path))) && !excludes.some((re) => re.test(path));
}
