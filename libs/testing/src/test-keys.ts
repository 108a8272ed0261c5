import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { subjectFor, type Envelope } from '@autoheal/contracts';
import { ensureDevKeySet, KEY_ID_HEADER, loadSigningKey, loadTrustStore, signEventPayload, SIGNATURE_HEADER, type Identity, type SigningKey, type TrustStore } from '@autoheal/security';

/** The identities a test key set holds: the four services and the demo fleet's agent. */
export const TEST_IDENTITIES: readonly Identity[] = ['detector', 'decision', 'executor', 'auditor', 'agent:demo-fleet'];

export interface TestKeys {
  dir: string;
  trustFile: string;
  trust: TrustStore;
  /** The private key of an identity in the set. */
  key(identity: Identity): SigningKey;
  /** AUTOHEAL_SIGNING_KEY_FILE and AUTOHEAL_TRUST_FILE for a process running as `identity`. */
  env(identity: Identity): { AUTOHEAL_SIGNING_KEY_FILE: string; AUTOHEAL_TRUST_FILE: string };
  remove(): void;
}

/** A fresh key per identity in a temp dir, and the trust file listing them, made the way `npm start` makes its own. */
export function createTestKeys(identities: readonly Identity[] = TEST_IDENTITIES): TestKeys {
  const dir = mkdtempSync(join(tmpdir(), 'autoheal-keys-'));
  const set = ensureDevKeySet(dir, identities);
  const keys = new Map(identities.map((identity) => [identity, loadSigningKey(set.keyFiles[identity])]));
  return {
    dir,
    trustFile: set.trustFile,
    trust: loadTrustStore(set.trustFile),
    key(identity) {
      const key = keys.get(identity);
      if (!key) throw new Error(`no test key for ${identity}`);
      return key;
    },
    env(identity) {
      return { AUTOHEAL_SIGNING_KEY_FILE: set.keyFiles[identity], AUTOHEAL_TRUST_FILE: set.trustFile };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Publishes an event the way its producer would: the payload signed with the key of the
 * identity named by `event.producer` (or `as`). For tests that put control events on the bus
 * in a service's stead. Returns the stream sequence.
 */
export async function publishSigned(nc: NatsConnection, keys: TestKeys, event: Envelope, options: { as?: Identity; msgID?: string } = {}): Promise<number> {
  const bytes = new TextEncoder().encode(JSON.stringify(event));
  const signed = signEventPayload(keys.key(options.as ?? (event.producer as Identity)), bytes);
  const h = natsHeaders();
  h.set(SIGNATURE_HEADER, signed.signature);
  h.set(KEY_ID_HEADER, signed.keyId);
  const ack = await jetstream(nc).publish(subjectFor(event), bytes, { headers: h, ...(options.msgID ? { msgID: options.msgID } : {}) });
  return ack.seq;
}
