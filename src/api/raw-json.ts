// Finds the exact text of one top-level member of a JSON object, so a message payload can be
// stored and delivered byte-for-byte as the sender wrote it (key order, spacing, number forms),
// instead of whatever JSON.stringify would produce after parsing.

/**
 * The raw text of the value of top-level key `key` in `json`, or undefined when absent.
 * `json` must already be known to be valid JSON (JSON.parse succeeded) and to be an object.
 * With duplicate keys the last one wins, as with JSON.parse.
 */
export function findTopLevelValue(json: string, key: string): string | undefined {
  let i = skipSpace(json, 0);
  if (json[i] !== '{') return undefined;
  i = skipSpace(json, i + 1);
  let found: string | undefined;
  while (i < json.length && json[i] !== '}') {
    const keyEnd = endOfString(json, i);
    const name = JSON.parse(json.slice(i, keyEnd)) as string;
    i = skipSpace(json, keyEnd);
    i = skipSpace(json, i + 1); // past ':'
    const valueEnd = endOfValue(json, i);
    if (name === key) found = json.slice(i, valueEnd);
    i = skipSpace(json, valueEnd);
    if (json[i] === ',') i = skipSpace(json, i + 1);
  }
  return found;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  return i;
}

/** `i` is at an opening quote; returns the index just past the closing quote. */
function endOfString(text: string, i: number): number {
  i++;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') i += 2;
    else if (ch === '"') return i + 1;
    else i++;
  }
  return i;
}

/** Returns the index just past the value starting at `i`. */
function endOfValue(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return endOfString(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') {
        i = endOfString(text, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // number, true, false, null
  while (i < text.length && !',}] \n\r\t'.includes(text[i]!)) i++;
  return i;
}

/**
 * Deepest nesting of arrays/objects accepted in a request body. JSON.parse copes with any depth,
 * but JSON.stringify (every response that echoes a payload or schema) recurses and overflows the
 * stack somewhere in the thousands, which would turn every later read of that row into a 500.
 * 128 is serde_json's default recursion limit, so Svix refuses the same bodies.
 */
export const MAX_JSON_DEPTH = 128;

/** True when `json` nests arrays/objects deeper than `maxDepth` (brackets inside strings ignored). */
export function exceedsJsonDepth(json: string, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const ch = json.charCodeAt(i);
    if (ch === 0x22 /* " */) {
      i++;
      while (i < json.length && json.charCodeAt(i) !== 0x22) {
        if (json.charCodeAt(i) === 0x5c /* \ */) i++;
        i++;
      }
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
