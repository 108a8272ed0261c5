// Types for ensure-chromium.js, for the browser tests.
/** The path of a Chromium that runs (CHROMIUM_BIN, the PATH, or Debian's package installed now when root). */
export function ensureChromium(options?: { log?: (line: string) => void }): string;
