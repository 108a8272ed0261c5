import { OWNER_ROLE, READER_ROLES, runtimeRoleGrantsSql, SERVICE_ROLES } from '@autoheal/persistence';

// The set-up step that creates the roles runs before anything is built, so it names them itself.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const setUp = require('./postgres-roles.js') as {
  OWNER_ROLE: string;
  SERVICE_ROLES: Record<string, string>;
  READER_ROLES: Record<string, string>;
  ROLES: Record<string, string>;
  SERVICE_SCHEMAS: string[];
  scramVerifier: (p: string, salt: Buffer, i: number) => string;
};

describe('database roles', () => {
  it('are the roles the set-up step creates', () => {
    expect(setUp.OWNER_ROLE).toBe(OWNER_ROLE);
    expect(setUp.SERVICE_ROLES).toEqual(SERVICE_ROLES);
    expect(setUp.SERVICE_SCHEMAS).toEqual(Object.keys(SERVICE_ROLES));
    // Reader roles log in but own no schema.
    expect(setUp.READER_ROLES).toEqual(READER_ROLES);
    expect(setUp.ROLES).toEqual({ owner: OWNER_ROLE, ...SERVICE_ROLES, ...READER_ROLES });
  });

  it('computes the SCRAM-SHA-256 verifier Postgres stores (RFC 7677 test vector)', () => {
    // RFC 7677 section 3: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations.
    const verifier = setUp.scramVerifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), 4096);
    expect(verifier).toBe('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=');
  });

  it('grant a runtime role no DDL, no TRUNCATE and nothing on the migrations table', () => {
    const { up } = runtimeRoleGrantsSql('decision', SERVICE_ROLES.decision, { appendOnlyTables: ['tenant_versions'] });
    const grants = up.filter((sql) => /\bGRANT\b/.test(sql) && !/REVOKE/.test(sql)).join('\n');
    expect(grants).not.toMatch(/TRUNCATE|TRIGGER|REFERENCES|CREATE|ALL PRIVILEGES|EXECUTE/);
    expect(up).toContain(`REVOKE ALL ON "decision".migrations, "decision".migrations_id_seq FROM autoheal_decision`);
    expect(up).toContain(`REVOKE UPDATE, DELETE ON "decision"."tenant_versions" FROM autoheal_decision`);
  });
});
