import type { IncidentSeverity } from '@autoheal/contracts';

/** What one step of a rule did to its level. Numbers, not objects: a step runs per sample. */
export const Transition = { None: 0, Opened: 1, Resolved: 2 } as const;
export type Transition = (typeof Transition)[keyof typeof Transition];

/** Rule flags word: bit 0 firing, bit 1 rule-specific mode, bits 2–3 severity code. */
export const FIRING = 1;
export const MODE_BIT = 2;
const SEVERITY_SHIFT = 2;
const SEVERITY_MASK = 3 << SEVERITY_SHIFT;

/** 0 minor, 1 major, 2 critical: comparable, and two bits of a number in the state. */
export type SeverityCode = 0 | 1 | 2;
const SEVERITIES: readonly IncidentSeverity[] = ['minor', 'major', 'critical'];

export function severityName(flags: number): IncidentSeverity {
  return SEVERITIES[(flags & SEVERITY_MASK) >> SEVERITY_SHIFT] ?? 'minor';
}

export function severityCode(severity: IncidentSeverity): SeverityCode {
  switch (severity) {
    case 'minor':
      return 0;
    case 'major':
      return 1;
    case 'critical':
      return 2;
    default: {
      const unreachable: never = severity;
      throw new Error(`unknown severity ${String(unreachable)}`);
    }
  }
}

export function withSeverity(flags: number, code: SeverityCode): number {
  return (flags & ~SEVERITY_MASK) | (code << SEVERITY_SHIFT);
}

/** Severity from how far a value is past graded levels: ≥ critical → critical, ≥ major → major. */
export function gradedSeverity(value: number, major: number, critical: number): SeverityCode {
  return value >= critical ? 2 : value >= major ? 1 : 0;
}

export function isoOrNull(epochMs: number): string | null {
  return epochMs >= 0 ? new Date(epochMs).toISOString() : null;
}

/** Rounds evidence values to 4 significant digits so incidents read well and stay small. */
export function round(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(4));
}
