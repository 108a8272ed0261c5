export enum ApprovalsErrorCode {
  NotFound = 'remediation_not_found',
  NotAwaitingApproval = 'remediation_not_awaiting_approval',
  /** The reviewer's credential does not cover the remediation's tenant. */
  TenantForbidden = 'tenant_forbidden',
}

export class ApprovalsError extends Error {
  constructor(
    readonly code: ApprovalsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalsError';
  }
}
