import type { IncidentKind, RemediationAction } from '@autoheal/contracts';

/** For each kind of incident, the actions worth trying, in order of preference. */
export type Playbook = Readonly<Partial<Record<IncidentKind, readonly RemediationAction[]>>>;

export const DEFAULT_PLAYBOOK: Playbook = {
  // A hung or dead process: restarting it is the least invasive fix there is.
  heartbeat_missed: ['restart'],
  crashed: ['restart'],
};
