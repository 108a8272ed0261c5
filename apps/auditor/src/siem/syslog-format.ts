import type { ChainedRow, Outcome } from '@autoheal/evidence';

/**
 * Audit rows as syslog messages for a SIEM, as plain functions over data:
 *
 * - RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, the row's
 *   tenant, seq, hash and event id also as structured data (so a SIEM can index them without
 *   parsing the body), the body the whole row as JSON (`json`) or as CEF (`cef`);
 * - octet-counting framing (RFC 6587 3.4.1, the framing RFC 5425 prescribes over TLS):
 *   `<byte length> <message>`, so a body may hold any byte, newlines included.
 *
 * The JSON body is the row with every column the hash covers, in the order of the export bundle's
 * rows.jsonl (docs/audit-row-hash.md), so the SIEM can recompute each row's hash and the chain.
 */

export type SiemFormat = 'json' | 'cef';

export interface SyslogOptions {
  format: SiemFormat;
  /** HOSTNAME field: who sends (the auditor's host or a configured name). */
  hostname: string;
  /** APP-NAME field. */
  appName: string;
  /** Syslog facility 0–23 (13: log audit). */
  facility: number;
}

/**
 * The SD-ID of our structured data. `32473` is the private enterprise number RFC 5612 reserves for
 * documentation; a deployment that needs its own registers one and changes it here.
 */
export const SD_ID = 'autoheal@32473';

/** What each outcome weighs in a SIEM: RFC 5424 severities (3 error, 4 warning, 6 informational). */
export function severityOf(outcome: Outcome): number {
  switch (outcome) {
    case 'failure':
      return 3;
    case 'refused':
      return 4;
    case 'success':
    case 'info':
      return 6;
    default: {
      const unknown: never = outcome;
      throw new Error(`unknown outcome ${String(unknown)}`);
    }
  }
}

/** CEF severities 0–10 for the same outcomes. */
function cefSeverityOf(outcome: Outcome): number {
  switch (outcome) {
    case 'failure':
      return 7;
    case 'refused':
      return 5;
    case 'success':
    case 'info':
      return 3;
    default: {
      const unknown: never = outcome;
      throw new Error(`unknown outcome ${String(unknown)}`);
    }
  }
}

/**
 * A header field of RFC 5424: printable US-ASCII (33–126) only, at most `max` characters, `-`
 * when empty (the NILVALUE). Anything else is replaced by `_`, so no field can carry a space and
 * shift the fields after it.
 */
export function headerField(value: string, max: number): string {
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return cleaned === '' ? '-' : cleaned;
}

/** An SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 6.3.3); any UTF-8 otherwise. */
export function sdParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** One SD-ELEMENT: `[id name="value" …]`. Names are ours (printable ASCII without `= ]"` and space). */
export function sdElement(id: string, params: readonly (readonly [string, string])[]): string {
  return `[${id}${params.map(([name, value]) => ` ${name}="${sdParamValue(value)}"`).join('')}]`;
}

/** The row as its JSON body: every hashed column and the hash, in the bundle's order. */
export function rowJson(row: ChainedRow): string {
  const ordered: ChainedRow = {
    tenantId: row.tenantId,
    seq: row.seq,
    prevHash: row.prevHash,
    eventId: row.eventId,
    eventType: row.eventType,
    occurredAt: row.occurredAt,
    recordedAt: row.recordedAt,
    actor: row.actor,
    action: row.action,
    outcome: row.outcome,
    resource: row.resource,
    source: row.source,
    correlationId: row.correlationId,
    causationId: row.causationId,
    traceId: row.traceId,
    payload: row.payload,
    hash: row.hash,
  };
  return JSON.stringify(ordered);
}

/** A CEF header field: `\` and `|` escaped; newlines would end the record, so they become spaces. */
export function cefHeaderField(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

/** A CEF extension value: `\` and `=` escaped, newlines as `\n` / `\r`. */
export function cefExtensionValue(value: string): string {
  return value.replace(/[\\=]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/**
 * The row as a CEF record (ArcSight CEF 0): the row's fields as extensions, the custom ones
 * labelled; `msg` holds the row's JSON (as above), so a CEF-only SIEM can still verify the hash.
 */
export function rowCef(row: ChainedRow, appName: string): string {
  const extensions: [string, string][] = [
    ['rt', String(Date.parse(row.recordedAt))],
    ['end', String(Date.parse(row.occurredAt))],
    ['suser', row.actor],
    ['act', row.action],
    ['outcome', row.outcome],
    ['externalId', row.eventId],
    ['cs1Label', 'tenant'],
    ['cs1', row.tenantId],
    ['cn1Label', 'seq'],
    ['cn1', String(row.seq)],
    ['cs2Label', 'hash'],
    ['cs2', row.hash],
    ['cs3Label', 'prevHash'],
    ['cs3', row.prevHash],
    ['cs4Label', 'correlationId'],
    ['cs4', row.correlationId ?? ''],
    ['cs5Label', 'source'],
    ['cs5', row.source],
    ['msg', rowJson(row)],
  ];
  const header = ['CEF:0', 'autoheal', appName, '1', row.eventType, row.action, String(cefSeverityOf(row.outcome))].map((f, i) => (i === 0 ? f : cefHeaderField(f)));
  return `${header.join('|')}|${extensions.map(([k, v]) => `${k}=${cefExtensionValue(v)}`).join(' ')}`;
}

/** UTF-8 byte order mark: RFC 5424 6.4 marks a UTF-8 MSG with it. */
const BOM = '\uFEFF';

/** One audit row as an RFC 5424 message (without framing). */
export function syslogMessage(row: ChainedRow, options: SyslogOptions): string {
  const pri = options.facility * 8 + severityOf(row.outcome);
  const header = [
    `<${pri}>1`,
    // recorded_at: when the auditor stored the row (RFC 3339, UTC, milliseconds).
    headerField(row.recordedAt, 64),
    headerField(options.hostname, 255),
    headerField(options.appName, 48),
    '-',
    headerField(row.eventType, 32),
  ].join(' ');
  const sd = sdElement(SD_ID, [
    ['tenant', row.tenantId],
    ['seq', String(row.seq)],
    ['hash', row.hash],
    ['eventId', row.eventId],
  ]);
  const body = options.format === 'json' ? rowJson(row) : rowCef(row, options.appName);
  return `${header} ${sd} ${BOM}${body}`;
}

/** Octet-counting framing (RFC 6587 3.4.1, RFC 5425 4.3): the message's length in bytes, a space, the message. */
export function octetFrame(message: string): Buffer {
  const bytes = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
}

/**
 * Splits a stream of octet-counted frames back into messages (for tests and tools that read what
 * a receiver got). Returns the complete messages and the bytes of an incomplete last frame.
 */
export function parseOctetFrames(data: Buffer): { messages: string[]; rest: Buffer } {
  const messages: string[] = [];
  let at = 0;
  for (;;) {
    const space = data.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length < 0 || space - at > 10) throw new Error(`not an octet-counted frame at byte ${at}`);
    if (space + 1 + length > data.length) break;
    messages.push(data.subarray(space + 1, space + 1 + length).toString('utf8'));
    at = space + 1 + length;
  }
  return { messages, rest: data.subarray(at) };
}
