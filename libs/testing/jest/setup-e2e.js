// setupFilesAfterEnv of the e2e project (see setup-integration.js for why this is a file).
jest.setTimeout(180_000);
