import { chainNext, EMPTY_HEAD, hashRow, type ChainedRow } from '@autoheal/evidence';
import {
  cefExtensionValue,
  cefHeaderField,
  headerField,
  octetFrame,
  parseOctetFrames,
  rowJson,
  sdElement,
  sdParamValue,
  severityOf,
  syslogMessage,
  type SyslogOptions,
} from './syslog-format';

function row(overrides: Partial<Omit<ChainedRow, 'seq' | 'prevHash' | 'hash'>> = {}): ChainedRow {
  return chainNext(EMPTY_HEAD, {
    tenantId: 'acme',
    eventId: '0190a000-0000-7000-8000-000000000001',
    eventType: 'remediation.succeeded',
    occurredAt: '2026-01-02T03:04:05.006Z',
    recordedAt: '2026-01-02T03:04:05.789Z',
    actor: 'executor',
    action: 'restart.execute',
    outcome: 'success',
    resource: { service: 'api', instance: 'api-1' },
    source: 'remediation.acme.succeeded',
    correlationId: 'inc-1',
    causationId: null,
    traceId: null,
    payload: { note: 'a "quoted" ] \\ value\nwith a newline', ünïcødé: '✓' },
    ...overrides,
  });
}

const options: SyslogOptions = { format: 'json', hostname: 'auditor-0', appName: 'autoheal-auditor', facility: 13 };
const BOM = '\uFEFF';

/** RFC 5424's grammar for the header and one SD-ELEMENT, enough to hold our output to it. */
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (\[[^ \]=" ]+(?: [^ \]=" ]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*\]) (.*)$/su;

describe('syslogMessage (RFC 5424)', () => {
  it('writes the header fields, the structured data and the row as JSON', () => {
    const r = row();
    const message = syslogMessage(r, options);
    const m = RFC5424.exec(message);
    expect(m).not.toBeNull();
    const [, pri, timestamp, hostname, appName, procId, msgId, sd, msg] = m!;
    expect(Number(pri)).toBe(13 * 8 + 6); // log audit, informational
    expect(timestamp).toBe('2026-01-02T03:04:05.789Z');
    expect([hostname, appName, procId, msgId]).toEqual(['auditor-0', 'autoheal-auditor', '-', 'remediation.succeeded']);
    expect(sd).toBe(`[autoheal@32473 tenant="acme" seq="1" hash="${r.hash}" eventId="${r.eventId}"]`);
    expect(msg.startsWith(BOM)).toBe(true);
    expect(JSON.parse(msg.slice(1))).toEqual(r);
  });

  it('carries enough for the SIEM to recompute the row hash from the body alone', () => {
    const first = row();
    const second = chainNext(first, { ...first, eventId: '0190a000-0000-7000-8000-000000000002', outcome: 'refused' });
    for (const r of [first, second]) {
      const body = JSON.parse(syslogMessage(r, options).split(BOM)[1]) as ChainedRow;
      const { hash, ...fields } = body;
      expect(hashRow(fields)).toBe(hash);
    }
    expect((JSON.parse(syslogMessage(second, options).split(BOM)[1]) as ChainedRow).prevHash).toBe(first.hash);
  });

  it.each([
    ['success', 6],
    ['info', 6],
    ['refused', 4],
    ['failure', 3],
  ] as const)('maps outcome %s to severity %i', (outcome, severity) => {
    expect(severityOf(outcome)).toBe(severity);
    expect(syslogMessage(row({ outcome }), { ...options, facility: 4 }).startsWith(`<${4 * 8 + severity}>1 `)).toBe(true);
  });

  it('keeps header fields printable ASCII within their lengths, so no value can shift the next field', () => {
    expect(headerField('host with spaces\tand\nnewlines', 255)).toBe('host_with_spaces_and_newlines');
    expect(headerField('', 48)).toBe('-');
    expect(headerField('é', 48)).toBe('_');
    expect(headerField('x'.repeat(300), 255)).toHaveLength(255);
    const m = RFC5424.exec(syslogMessage(row({ eventType: 'a very long event type that goes past thirty-two' }), { ...options, hostname: 'my host' }));
    expect(m?.[3]).toBe('my_host');
    expect(m?.[6]).toBe('a_very_long_event_type_that_goes');
  });

  it('escapes ", \\ and ] in structured data values (RFC 5424 6.3.3) and nothing else', () => {
    expect(sdParamValue('a"b\\c]d=e é')).toBe('a\\"b\\\\c\\]d=e é');
    expect(sdElement('x@1', [['k', 'v"]'], ['n', '']])).toBe('[x@1 k="v\\"\\]" n=""]');
    const m = RFC5424.exec(syslogMessage(row({ tenantId: 'ac]"me\\' }), options));
    expect(m?.[7]).toContain('tenant="ac\\]\\"me\\\\"');
  });
});

describe('octet-counting framing (RFC 6587 3.4.1)', () => {
  it('prefixes the length in bytes, not characters', () => {
    expect(octetFrame('abc').toString()).toBe('3 abc');
    expect(octetFrame('✓').toString()).toBe('3 ✓');
    const message = syslogMessage(row(), options);
    const frame = octetFrame(message);
    const space = frame.indexOf(0x20);
    expect(Number(frame.subarray(0, space).toString())).toBe(Buffer.byteLength(message));
    expect(frame.length).toBe(space + 1 + Buffer.byteLength(message));
  });

  it('round-trips frames whose bodies hold newlines, spaces and multi-byte characters, split anywhere', () => {
    const messages = ['a b\nc', '✓ ünï\n\n', '', syslogMessage(row(), options)];
    const stream = Buffer.concat(messages.map(octetFrame));
    expect(parseOctetFrames(stream)).toEqual({ messages, rest: Buffer.alloc(0) });
    const cut = stream.length - 5;
    const first = parseOctetFrames(stream.subarray(0, cut));
    expect(first.messages).toEqual(messages.slice(0, 3));
    expect(parseOctetFrames(Buffer.concat([first.rest, stream.subarray(cut)])).messages).toEqual(messages.slice(3));
  });

  it('refuses what is not a frame', () => {
    expect(() => parseOctetFrames(Buffer.from('<14>1 not counted'))).toThrow(/not an octet-counted frame/);
  });
});

describe('CEF body', () => {
  it('escapes header and extension fields and keeps the row JSON in msg', () => {
    expect(cefHeaderField('a|b\\c\nd')).toBe('a\\|b\\\\c d');
    expect(cefExtensionValue('a=b\\c\nd\re')).toBe('a\\=b\\\\c\\nd\\re');
    const r = row({ action: 'restart|execute' });
    const message = syslogMessage(r, { ...options, format: 'cef' });
    const body = message.split(BOM)[1];
    expect(body.startsWith('CEF:0|autoheal|autoheal-auditor|1|remediation.succeeded|restart\\|execute|3|')).toBe(true);
    expect(body).toContain(`cs1Label=tenant cs1=acme cn1Label=seq cn1=1 cs2Label=hash cs2=${r.hash}`);
    expect(body).not.toMatch(/\n/);
    const msg = /msg=(.*)$/.exec(body)![1];
    const unescaped = msg.replace(/\\(n|r|=|\\)/g, (_, c: string) => ({ n: '\n', r: '\r', '=': '=', '\\': '\\' })[c]!);
    expect(unescaped).toBe(rowJson(r));
  });
});
