import { existsSync } from 'node:fs';
import { z } from 'zod';

const existingFile = (what: string) =>
  z
    .string({ message: `required: the path of ${what}` })
    .min(1, `required: the path of ${what}`)
    .refine((path) => existsSync(path), { message: `no such file (${what})` });

/**
 * The two variables every service and agent needs, for its config schema (`z.object({ ...SIGNING_ENV, … })`):
 * its own Ed25519 private key (PEM) and the trust file. Both are required: a service that cannot
 * sign, or cannot tell whom to trust, does not start.
 */
export const SIGNING_ENV = {
  AUTOHEAL_SIGNING_KEY_FILE: existingFile('this process’s Ed25519 private key (PEM)'),
  AUTOHEAL_TRUST_FILE: existingFile('the trust file (JSON: key id → identity, public key, validity)'),
};
