// The policy core: pure functions over data, no Nest, no I/O.
export * from './compliance-presets.js';
export * from './tenant-document.js';
export * from './document-text.js';
export * from './playbooks.js';
export * from './guardrails.js';
export * from './circuit-breaker.js';
export * from './deferral.js';
export * from './execution-spec.js';
export { evaluatePolicy, NO_POLICY_VERSION, type PolicyInput, type PolicyDecision, type Explanation, type Refusal } from './evaluate-policy.js';
export * from './json-schema.js';
