import { DecisionInitial1763700100000 } from './1763700100000-decision-initial.js';
import { DecisionGuardrails1763800000000 } from './1763800000000-decision-guardrails.js';
import { DecisionDeferrals1763900000000 } from './1763900000000-decision-deferrals.js';
import { DecisionAttempts1764000000000 } from './1764000000000-decision-attempts.js';
import { DecisionAvailability1764100000000 } from './1764100000000-decision-availability.js';
import { DecisionSecretRefs1764200000000 } from './1764200000000-decision-secret-refs.js';
import { DecisionRuntimeRole1765000000000 } from './1765000000000-decision-runtime-role.js';
import { DecisionTenantBreakers1766300000000 } from './1766300000000-decision-tenant-breakers.js';
import { DecisionAdminReadIsolation1766500000000 } from './1766500000000-decision-admin-read-isolation.js';
import { DecisionVerification1766600000000 } from './1766600000000-decision-verification.js';
import { DecisionScaleIns1766700000000 } from './1766700000000-decision-scale-ins.js';
import { DecisionVerifyWindow1766800000000 } from './1766800000000-decision-verify-window.js';
import { DecisionSwitchoverArms1767300000000 } from './1767300000000-decision-switchover-arms.js';
import { DecisionArmedRestarts1767400000000 } from './1767400000000-decision-armed-restarts.js';

export const decisionMigrations = [
  DecisionInitial1763700100000,
  DecisionGuardrails1763800000000,
  DecisionDeferrals1763900000000,
  DecisionAttempts1764000000000,
  DecisionAvailability1764100000000,
  DecisionSecretRefs1764200000000,
  DecisionRuntimeRole1765000000000,
  DecisionTenantBreakers1766300000000,
  DecisionAdminReadIsolation1766500000000,
  DecisionVerification1766600000000,
  DecisionScaleIns1766700000000,
  DecisionVerifyWindow1766800000000,
  DecisionSwitchoverArms1767300000000,
  DecisionArmedRestarts1767400000000,
];
