const { swcOptions } = require('./scripts/swc-options');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, [target]]) => [`^${alias}$`, `<rootDir>/${target.replace(/\.ts$/, '')}`]),
);
const transform = { '^.+\\.ts$': ['@swc/jest', { ...swcOptions(), sourceMaps: 'inline', swcrc: false }] };
const common = { testEnvironment: 'node', transform, moduleNameMapper, rootDir: __dirname };

/** unit: pure logic beside the code, and test/*.spec.ts (the deploy files parsed); int: real Postgres and Redis; e2e: the started system driven by the official SDKs */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/apps/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'] },
    { ...common, displayName: 'int', testMatch: ['<rootDir>/apps/**/*.int-spec.ts', '<rootDir>/libs/**/*.int-spec.ts'], setupFiles: ['<rootDir>/test/env.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'], setupFiles: ['<rootDir>/test/env.ts'] },
  ],
};
