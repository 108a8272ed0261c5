import type { EntityManager } from 'typeorm';

/**
 * Outbox and inbox writes only mean something inside the transaction of the state change they
 * accompany; outside one they would commit on their own and the guarantee is gone.
 */
export function assertInTransaction(manager: EntityManager, operation: string): void {
  if (!manager.queryRunner?.isTransactionActive) {
    throw new Error(`${operation} must run inside a transaction: pass the EntityManager of dataSource.transaction(...)`);
  }
}
