export enum DriverErrorCode {
  /** Nobody listens for the target (agent down, unknown subject) or the connection dropped. */
  Unreachable = 'driver_unreachable',
  /** Asked, but no answer in time: the action may or may not have happened. */
  Timeout = 'driver_timeout',
  /** An answer that does not follow the contract. */
  InvalidReply = 'driver_invalid_reply',
}

/** The driver got no usable answer. The action's outcome is unknown, so asking again is the remedy. */
export class DriverError extends Error {
  constructor(
    readonly code: DriverErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DriverError';
  }
}
