// Jest global teardown: drops this run's template and any test database a failed suite left.
// Optional: without it, the next run's setup drops them (their run process is gone by then).
const db = require('./test-databases.js');

module.exports = async function globalTeardown() {
  const run = globalThis.__AUTOHEAL_TEST_TEMPLATE__;
  if (!run || run.tornDown) return;
  run.tornDown = true;
  await db.withAdmin(run.adminUrl, (admin) => db.dropRunDatabases(admin, run.runId));
};
