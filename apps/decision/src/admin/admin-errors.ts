import { ConflictException, ForbiddenException, HttpException, InternalServerErrorException, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { ApprovalsError, ApprovalsErrorCode } from '../approvals/approvals.errors.js';
import { TenantsError, TenantsErrorCode } from '../tenants/tenants.errors.js';

/** Maps a service error code to its HTTP answer; anything else is rethrown (500). */
export function toHttp(error: unknown): never {
  if (error instanceof TenantsError) throw tenantsHttp(error);
  if (error instanceof ApprovalsError) throw approvalsHttp(error);
  throw error;
}

function tenantsHttp(error: TenantsError): HttpException {
  const body = { code: error.code, message: error.message };
  switch (error.code) {
    case TenantsErrorCode.InvalidDocuments:
      return new UnprocessableEntityException({ statusCode: 422, error: 'Unprocessable Entity', ...body, message: 'tenant documents are invalid; nothing was applied', errors: error.documentErrors });
    case TenantsErrorCode.TenantNotFound:
    case TenantsErrorCode.VersionNotFound:
      return new NotFoundException({ statusCode: 404, error: 'Not Found', ...body });
    case TenantsErrorCode.FileUnreadable:
    case TenantsErrorCode.InvalidJson:
    case TenantsErrorCode.InvalidProfiles:
      return new InternalServerErrorException({ statusCode: 500, error: 'Internal Server Error', ...body });
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped tenants error ${String(unreachable)}`);
    }
  }
}

function approvalsHttp(error: ApprovalsError): HttpException {
  const body = { code: error.code, message: error.message };
  switch (error.code) {
    case ApprovalsErrorCode.NotFound:
      return new NotFoundException({ statusCode: 404, error: 'Not Found', ...body });
    case ApprovalsErrorCode.NotAwaitingApproval:
      return new ConflictException({ statusCode: 409, error: 'Conflict', ...body });
    case ApprovalsErrorCode.TenantForbidden:
      return new ForbiddenException({ statusCode: 403, error: 'Forbidden', ...body });
    default: {
      const unreachable: never = error.code;
      throw new Error(`unmapped approvals error ${String(unreachable)}`);
    }
  }
}
