export enum TenantsErrorCode {
  FileUnreadable = 'tenants_file_unreadable',
  InvalidJson = 'tenants_file_invalid_json',
  InvalidProfiles = 'tenants_file_invalid',
}

/** The tenants file cannot be used; the service refuses to start rather than guess a policy. */
export class TenantsError extends Error {
  constructor(
    readonly code: TenantsErrorCode,
    message: string,
    /** Every problem found, one line each. */
    readonly issues: string[] = [],
  ) {
    super(issues.length > 0 ? `${message}:\n${issues.map((i) => `  ${i}`).join('\n')}` : message);
    this.name = 'TenantsError';
  }
}
