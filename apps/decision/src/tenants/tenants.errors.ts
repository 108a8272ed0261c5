export enum TenantsErrorCode {
  FileUnreadable = 'tenants_file_unreadable',
  InvalidJson = 'tenants_file_invalid_json',
  InvalidProfiles = 'tenants_file_invalid',
  /** A batch of documents failed validation; nothing was applied. */
  InvalidDocuments = 'tenant_documents_invalid',
  TenantNotFound = 'tenant_not_found',
  VersionNotFound = 'tenant_version_not_found',
}

/** A tenant document or file cannot be used; nothing is applied rather than guessing a policy. */
export class TenantsError extends Error {
  constructor(
    readonly code: TenantsErrorCode,
    message: string,
    /** Every problem found, one line each. */
    readonly issues: string[] = [],
    /** Structured problems of a refused batch. */
    readonly documentErrors: { document: number; path: string; message: string }[] = [],
  ) {
    super(issues.length > 0 ? `${message}:\n${issues.map((i) => `  ${i}`).join('\n')}` : message);
    this.name = 'TenantsError';
  }
}
