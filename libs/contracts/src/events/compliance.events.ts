import { z } from 'zod';
import { subjectToken } from '../subject-token.js';
import { remediationAction } from './remediation.events.js';

/** An action the policy would have taken was refused for a compliance reason. */
export const complianceActionRefusedData = z
  .object({
    incidentId: z.uuid(),
    service: subjectToken,
    instance: subjectToken,
    action: remediationAction,
    rule: z.string().min(1),
    reason: z.string().min(1),
    policyVersion: z.string().min(1),
  })
  .strict();

export type ComplianceActionRefusedData = z.infer<typeof complianceActionRefusedData>;
