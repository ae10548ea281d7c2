/**
 * The dependency rules `npm test` checks (dependency-cruiser). Each says why.
 * Run alone: npm run depcheck
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle means two modules cannot be understood, tested or moved one without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'zod-through-config-zod',
      severity: 'error',
      comment:
        "src/ builds schemas with the zod of src/config/zod.ts, which turns zod's JIT off before any schema is built (zod reads the switch at construction). Type-only imports are fine.",
      from: { path: '^src/', pathNot: '^src/config/zod\\.ts$' },
      to: { path: 'node_modules/zod/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'core/ decides with data: no I/O (no node: modules but crypto, no store, no TKE client, no HTTP, no SDK). The clock and the state are arguments.',
      from: { path: '^src/core/' },
      to: {
        path: ['^src/store/', '^src/tke/sdk-', '^src/tke/call-tke', '^src/http/', '^src/scf/', '^src/sources/', '^src/tencentcloud/', 'node_modules/(ioredis|tencentcloud-sdk|pino|@middy)'],
        pathNot: ['^src/store/state-store\\.ts$'],
      },
    },
    {
      name: 'core-no-node-io',
      severity: 'error',
      comment: 'core/ may hash (node:crypto) but must not touch files, sockets or processes.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], pathNot: ['^crypto$', '^node:crypto$'] },
    },
    // Layers, lowest first: core (decisions) < adapters (tke, store, tencentcloud, auth, http, log)
    // < config < rules < sources < scale-out < the app (scale-out-app, handler, cold-start, index,
    // scf). A layer never imports one above it, so no two folders can form a cycle either.
    {
      name: 'core-imports-only-core',
      severity: 'error',
      comment: 'core/ is the bottom layer: it may use the error family and the TKE request types, nothing else of ours.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/errors\\.ts$', '^src/tke/tke-params\\.ts$'] },
    },
    {
      name: 'adapters-know-no-policy',
      severity: 'error',
      comment: 'TKE, the store, Tencent Cloud routing, auth and HTTP shapes know nothing of config, rules, senders or the lifecycle.',
      from: { path: '^src/(tke|store|tencentcloud|auth|http|log)/' },
      to: { path: '^src/(config|rules|sources|scale-out|scf)/' },
    },
    {
      name: 'config-below-rules-and-senders',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(rules|sources|scale-out|store|http|scf)/' },
    },
    {
      name: 'rules-below-senders',
      severity: 'error',
      from: { path: '^src/rules/' },
      to: { path: '^src/(sources|scale-out|scf)/' },
    },
    {
      name: 'senders-below-the-lifecycle',
      severity: 'error',
      comment: 'A sender reads its payload and writes its answer; the lifecycle runs the scale-out.',
      from: { path: '^src/sources/' },
      to: { path: '^src/(scale-out|scf)/|^src/(scale-out-app|handler|cold-start|index)\\.ts$' },
    },
    {
      name: 'shipped-code-has-no-dev-tools',
      severity: 'error',
      comment: 'The function never loads the local TKE sandbox, the SCF stand-in or the local server: they are for npm start and the tests.',
      from: { path: '^src/' },
      to: { path: '^dev/' },
    },
    {
      name: 'shipped-code-has-no-tests',
      severity: 'error',
      comment: 'Nothing under src/ may import test helpers.',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^dist/' },
  },
};
