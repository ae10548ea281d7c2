/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // swc strips types (tsc checks them in `npm test`) and turns ESM into CommonJS, including
  // @middy/core, which ships as ESM only (middy 5 is the last line that runs on SCF's Node 18.15).
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/)'],
  // @middy/core's package.json exports only an "import" entry, which jest's CommonJS resolver
  // does not see: point it at the file (swc above turns it into CommonJS).
  moduleNameMapper: { '^@middy/core$': '<rootDir>/node_modules/@middy/core/index.js' },
  testTimeout: 20000,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
