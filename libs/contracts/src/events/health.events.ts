import { z } from 'zod';
import { subjectToken } from '../subject-token.js';

/** Sent by an instance at the interval it announces; missing N of them is a hang. */
export const heartbeatData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    intervalMs: z.number().int().min(100).max(600_000),
    sequence: z.number().int().nonnegative(),
  })
  .strict();

/** Sent on graceful shutdown so that a planned stop opens no incident. */
export const stoppingData = z
  .object({
    service: subjectToken,
    instance: subjectToken,
    reason: z.string().max(500).optional(),
  })
  .strict();

export type HeartbeatData = z.infer<typeof heartbeatData>;
export type StoppingData = z.infer<typeof stoppingData>;
