import { z } from 'zod';
import { armHeals, subjectToken } from '@autoheal/contracts';
import type { Logger } from '../logger.js';
import { serviceKey, type InstanceRef } from '../config/agent-config.js';
import type { OutcomeStorage } from './outcome-store.js';

/**
 * One armed switchover: the executor's signed `arm_switchover` for a service, verified by the
 * command path (signature, freshness, target, replay) before it is kept here. It pre-authorises
 * one heal of a crashed instance of the service, until `expiresAt` (the command's signed issuedAt
 * + its signed armTtlMs): a switch to a ready warm spare, or, when `heals` has `restart` and no
 * spare is ready, a restart in place (the command's signed armHeals).
 */
export const switchoverArm = z
  .object({
    tenantId: subjectToken,
    service: subjectToken,
    remediationId: z.uuid(),
    commandId: z.uuid(),
    /** The executor key that signed the arm command. */
    keyId: z.string().min(1).max(200),
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    /** What the arm allows (the signed armHeals); arms kept before restarts could be armed allow the switch only. */
    heals: armHeals.default(['switch']),
  })
  .strict();
export type SwitchoverArm = z.infer<typeof switchoverArm>;

/** A heal made under an arm (a switch or a restart), waiting for the remediation of the crash's incident to claim it. */
export interface ArmedSwitch {
  armRemediationId: string;
  heal: 'switch' | 'restart';
  /** The spare's pid, or the restarted process's: the process that now backs the instance. */
  pid: number;
  port: number;
  at: string;
}

/**
 * The arms this agent holds, one per service at most (a renewal replaces the arm it renews), in
 * memory and in `<stateDir>/switchover-arms.json` so that a restart of the agent keeps them. A
 * lost arm (unreadable file) only means the next crash is healed the slow way, through the control
 * plane. An arm is used once: take() removes it before the switch is made.
 */
export class SwitchoverArms {
  static async open(storage: OutcomeStorage<SwitchoverArm>, logger: Logger): Promise<SwitchoverArms> {
    const arms = new SwitchoverArms(storage, logger);
    for (const { key, value } of await storage.load()) arms.byService.set(key, value);
    return arms;
  }

  private readonly byService = new Map<string, SwitchoverArm>();
  /** By instance key: heals made under an arm, not yet claimed by a restart or replace of the instance. Not persisted: a new agent starts fresh processes. */
  private readonly switches = new Map<string, ArmedSwitch>();
  private saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly storage: OutcomeStorage<SwitchoverArm>,
    private readonly logger: Logger,
  ) {}

  /** Keeps the arm (replacing an older one of the service) and saves it before the command is answered. */
  async arm(arm: SwitchoverArm): Promise<void> {
    const key = serviceKey(arm);
    const held = this.byService.get(key);
    // An arm issued before the one held never replaces it (a delayed delivery of an older renewal).
    if (held && Date.parse(held.issuedAt) > Date.parse(arm.issuedAt)) return;
    this.byService.set(key, arm);
    await this.save();
  }

  /** The service's arm if it still holds at `now`; an expired one is forgotten. */
  current(ref: Pick<InstanceRef, 'tenantId' | 'service'>, now: Date): SwitchoverArm | null {
    const key = serviceKey(ref);
    const arm = this.byService.get(key);
    if (!arm) return null;
    if (Date.parse(arm.expiresAt) <= now.getTime()) {
      this.byService.delete(key);
      void this.save();
      return null;
    }
    return arm;
  }

  /** Uses the service's arm: removed at once (one shot), saved in the background. Null when none holds at `now`. */
  take(ref: Pick<InstanceRef, 'tenantId' | 'service'>, now: Date): SwitchoverArm | null {
    const arm = this.current(ref, now);
    if (!arm) return null;
    this.byService.delete(serviceKey(ref));
    void this.save();
    return arm;
  }

  /** Resolves once every change so far is on disk. */
  flushed(): Promise<void> {
    return this.saving;
  }

  /** Every arm held (expired ones included until next looked at), for agent.status. */
  list(): SwitchoverArm[] {
    return [...this.byService.values()];
  }

  recordSwitch(instanceKey: string, made: ArmedSwitch): void {
    this.switches.set(instanceKey, made);
  }

  /** The heal made under an arm for this instance, removed (claimed once). */
  claimSwitch(instanceKey: string): ArmedSwitch | null {
    const made = this.switches.get(instanceKey) ?? null;
    this.switches.delete(instanceKey);
    return made;
  }

  /** Chained, so that two saves never write the file at once and the last state wins. */
  private save(): Promise<void> {
    const next = this.saving.then(async () => {
      try {
        await this.storage.save([...this.byService].map(([key, value]) => ({ key, value })));
      } catch (error) {
        this.logger.error({ err: error }, 'could not save the switchover arms; a restart of the agent may lose them (the next crash is then healed the slow way)');
      }
    });
    this.saving = next;
    return next;
  }
}
