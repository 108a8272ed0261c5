// Five projects: unit (pure logic, no I/O), integration (real Postgres and a nats-server per
// suite), e2e (the services as processes), browser (the ops console in Debian's Chromium, driven
// by Playwright, against the services as processes) and image (builds the container image with
// buildah and starts it). `npm test` runs the first three together, then browser and image each
// on its own: a browser and a whole system, or a build, take both cores and would starve the
// other suites' timing-sensitive waits.
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const shared = {
  rootDir: __dirname,
  // jose, @kubernetes/client-node and openid-client / oauth4webapi (which it imports) ship ES
  // modules only: compiled to CommonJS for Jest like our own sources (Node itself loads them
  // through require(esm)).
  transform: { '^.+\\.ts$': swc, '/node_modules/(jose|@kubernetes/client-node|openid-client|oauth4webapi)/.+\\.js$': swc },
  transformIgnorePatterns: ['/node_modules/(?!(jose|@kubernetes/client-node|openid-client|oauth4webapi)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    // Tests run against the sources of our libraries, not their build output.
    '^@autoheal/telemetry/register$': '<rootDir>/libs/telemetry/src/register.ts',
    '^@autoheal/([a-z-]+)$': '<rootDir>/libs/$1/src/index.ts',
    // nodenext wants `.js` in relative imports; the .ts file is what exists in src.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  setupFiles: ['reflect-metadata'],
};

module.exports = {
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,tools}/**/*.spec.ts'] },
    {
      ...shared,
      displayName: 'integration',
      // test/ holds integration specs that join two apps (a driver and the agent it drives).
      testMatch: ['<rootDir>/{apps,libs,tools,test}/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/jest/global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest/global-teardown.js',
      // A project-level testTimeout is ignored by Jest; these files set it.
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest/setup-integration.js'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/jest/global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest/global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest/setup-e2e.js'],
    },
    {
      ...shared,
      displayName: 'browser',
      testMatch: ['<rootDir>/test/**/*.browser-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/jest/global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest/global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest/setup-e2e.js'],
    },
    {
      ...shared,
      displayName: 'image',
      testMatch: ['<rootDir>/test/**/*.image-spec.ts'],
      globalSetup: '<rootDir>/libs/testing/jest/global-setup.js',
      globalTeardown: '<rootDir>/libs/testing/jest/global-teardown.js',
      setupFilesAfterEnv: ['<rootDir>/libs/testing/jest/setup-e2e.js'],
    },
  ],
};
