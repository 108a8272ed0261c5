import { z } from 'zod';
import { subjectToken } from '@autoheal/contracts';

/**
 * A warm spare (started with AUTOHEAL_SPARE=1) answers HTTP but reports no health and sends no
 * synthetic traffic: it is nobody yet. The agent promotes it when it switches an instance's front
 * to it; from then on it is that instance (its /healthz and its health reports carry the name).
 */
export const promoteMessage = z.object({ type: z.literal('autoheal.promote'), instance: subjectToken });
export type PromoteMessage = z.infer<typeof promoteMessage>;
