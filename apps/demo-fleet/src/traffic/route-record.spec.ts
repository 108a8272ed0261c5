import { routeRecordFrom } from './route-record.js';

const NOW = new Date('2026-12-06T12:00:00.000Z');

describe('routeRecordFrom', () => {
  it('reads the route a failover asks for from the agent’s variables', () => {
    const result = routeRecordFrom(
      {
        AUTOHEAL_FAILOVER_TENANT: 'hooli-eu',
        AUTOHEAL_FAILOVER_SERVICE: 'status-api',
        AUTOHEAL_FAILOVER_REGION: 'eu-central-1',
        AUTOHEAL_FAILOVER_REMEDIATION_ID: 'rem-1',
        AUTOHEAL_FAILOVER_INSTANCES: 'status-api-1:4108,status-api-2:4109',
      },
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      record: {
        tenantId: 'hooli-eu',
        service: 'status-api',
        region: 'eu-central-1',
        remediationId: 'rem-1',
        instances: [
          { instance: 'status-api-1', port: 4108 },
          { instance: 'status-api-2', port: 4109 },
        ],
        at: '2026-12-06T12:00:00.000Z',
      },
    });
  });

  it('names every missing or malformed variable', () => {
    const result = routeRecordFrom({ AUTOHEAL_FAILOVER_TENANT: 'hooli-eu', AUTOHEAL_FAILOVER_INSTANCES: 'status-api-1:x,:4100' }, NOW);
    expect(result).toEqual({
      ok: false,
      problems: [
        'AUTOHEAL_FAILOVER_SERVICE is not set',
        'AUTOHEAL_FAILOVER_REGION is not set',
        'AUTOHEAL_FAILOVER_REMEDIATION_ID is not set',
        'AUTOHEAL_FAILOVER_INSTANCES: status-api-1:x is not <instance>:<port>',
        'AUTOHEAL_FAILOVER_INSTANCES: :4100 is not <instance>:<port>',
      ],
    });
  });
});
