// setupFilesAfterEnv of the integration project. Jest reads `testTimeout` from the global
// config only, so a per-project timeout has to be set from inside the test environment.
jest.setTimeout(60_000);
