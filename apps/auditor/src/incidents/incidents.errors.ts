/** Why an incident view could not answer. Edges map each code exhaustively (incidents.exception-filter.ts). */
export enum IncidentsErrorCode {
  /** No row of the tenant's trail (as the caller's credential sees it) belongs to the incident. */
  IncidentNotFound = 'incident_not_found',
}

export class IncidentsError extends Error {
  constructor(
    readonly code: IncidentsErrorCode,
    message: string,
    /** The request field at fault, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'IncidentsError';
  }
}
