export {
  HealthReporter,
  MIN_INTERVAL_MS,
  MAX_INTERVAL_MS,
  type HealthReporterOptions,
  type HealthReportFailure,
  type HealthReporterStats,
} from './health-reporter.js';
export { type CheckFn, MAX_CHECKS } from './custom-checks.js';
export { LATENCY_BUCKETS_MS } from './request-window.js';
export { MAX_SAMPLES_PER_BATCH } from './sample-buffer.js';
export { ExitReporter, type ExitReporterOptions, type ExitedInstance } from './exit-reporter.js';
export { natsCredentialOptions, type NatsCredentials } from './credentials.js';
export {
  AdmissionGate,
  type AdmissionGateOptions,
  type AdmissionDecision,
  type AdmissionStats,
  type ActiveThrottle,
  type ThrottleChange,
  type ThrottleInput,
} from './admission/admission-gate.js';
export { InvalidThrottleError } from './admission/admission.errors.js';
export { expressAdmission, type ExpressAdmissionMiddleware } from './admission/express-admission.js';
export { fastifyAdmission, type FastifyAdmissionHook, type FastifyReplyLike } from './admission/fastify-admission.js';
export { nodeHttpAdmission } from './admission/node-http-admission.js';
export { SHED_STATUS, type NodeResponseLike, type ShedBody } from './admission/shed-response.js';
export { acceptSupervisorCommands, applySupervisorMessage, type SupervisorChannel } from './admission/supervisor-commands.js';
export {
  MAX_BURST,
  MAX_LIMIT_PER_SECOND,
  MAX_THROTTLE_DURATION_MS,
  SUPERVISOR_COMMAND_TYPES,
  supervisorCommand,
  supervisorThrottleAck,
  supervisorThrottleClearMessage,
  supervisorThrottleMessage,
  throttleSettings,
  type SupervisorCommand,
  type SupervisorThrottleAck,
  type SupervisorThrottleClearMessage,
  type SupervisorThrottleMessage,
  type ThrottleSettings,
} from './admission/throttle.schema.js';
