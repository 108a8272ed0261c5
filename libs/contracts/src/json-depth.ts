/**
 * The deepest nesting of objects and arrays an event may have on the bus: every consumer refuses
 * a deeper one before parsing it (our own events nest about eight deep). HTTP ingest has its own,
 * configurable limit (DETECTOR_INGEST_MAX_DEPTH).
 */
export const MAX_EVENT_NESTING = 64;

/**
 * Whether JSON text nests objects and arrays deeper than `maxDepth`, found in one pass over the
 * text without parsing it: `JSON.parse` of a 200,000-deep body recurses before anything can
 * check it, and an event nested 20,000 deep would pass the parser only to fail every consumer.
 * Brackets inside strings do not count. Malformed text is left to the parser.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}
