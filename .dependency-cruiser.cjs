/**
 * The dependency rules `npm test` checks (dependency-cruiser). Each says why.
 * Run alone: npm run depcheck. test/unit/dependency-rules.test.ts shows that every upward import is
 * reported (on fixture files) and that the real tree has none.
 */

/**
 * The layers of src/, lowest first (docs/DESIGN.md, "Module map"). A layer may import its own and
 * any below it, never one above: the rules below are generated from this list, one per layer, so a
 * layer added or moved here is checked at once. Type-only imports count too: a type names the
 * layer it comes from as surely as a value does.
 */
const LAYERS = [
  {
    name: 'errors',
    what: 'the one error family (errors.ts): every layer throws it, so it imports nothing of ours',
    path: ['^src/errors\\.ts$'],
  },
  {
    name: 'core',
    what: 'core/, pure decisions and the domain',
    path: ['^src/core/'],
  },
  {
    name: 'adapters',
    what: 'the adapters (tke, store, tencentcloud, kubernetes, auth, http, log): they may use one another, never in a cycle, and know nothing of config, rules, senders or the lifecycle',
    path: ['^src/(tke|store|tencentcloud|kubernetes|auth|http|log)/'],
  },
  {
    name: 'config',
    what: 'config/: the schema, the loader, the checks across fields',
    path: ['^src/config/'],
  },
  {
    name: 'notify',
    what: 'notify/: telling the team (the outbox, the messages, one file per sink); what is news is decided here from core data, and the layers above hand it the notices',
    path: ['^src/notify/'],
  },
  {
    name: 'rules',
    what: 'rules/: which alarms scale what (pure)',
    path: ['^src/rules/'],
  },
  {
    name: 'sources',
    what: 'sources/: one file per sender, reading its payload and writing its answer',
    path: ['^src/sources/'],
  },
  {
    name: 'scale-out',
    what: "scale-out/: one scale-out's lifecycle, its ladder, prices, its log line",
    path: ['^src/scale-out/'],
  },
  {
    name: 'purchases',
    what: 'purchases/: what the function bought, after the call: the list an operator reads, the pass that follows each purchase',
    path: ['^src/purchases/'],
  },
  {
    name: 'app',
    what: 'the app: scf/ and every top-level file but errors.ts (scale-out-app, handler, cold-start, index, health)',
    path: ['^src/scf/', '^src/(?!errors\\.ts$)[^/]+\\.ts$'],
  },
];

/**
 * Upward imports a layer is allowed, each with why. Keep this short: an exception is a module in
 * the wrong folder.
 */
const EXCEPTIONS = {
  // TKE's request shape (CreateClusterInstancesRequest) and the ClientToken length CVM allows are
  // what core renders, tokens and throttles; they are TKE's documented API and live beside the TKE
  // adapter, free of SDK types. tke-params.ts must itself import nothing of ours (its own rule
  // below), so this brings no adapter code into core.
  core: ['^src/tke/tke-params\\.ts$'],
};

const layerRules = LAYERS.slice(0, -1).map((layer, i) => {
  const above = LAYERS.slice(i + 1);
  const allowed = EXCEPTIONS[layer.name];
  return {
    name: `layer-${layer.name}-imports-nothing-above`,
    severity: 'error',
    comment: `${layer.what}. It may import ${LAYERS.slice(0, i + 1).map((l) => l.name).join(', ')}; never ${above.map((l) => l.name).join(', ')}.`,
    from: { path: layer.path },
    to: { path: above.flatMap((l) => l.path), ...(allowed !== undefined && { pathNot: allowed }) },
  };
});

const EVERY_LAYER = LAYERS.flatMap((l) => l.path);

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle means two modules cannot be understood, tested or moved one without the other.',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'layer-every-module-has-one',
      severity: 'error',
      comment: 'A module under src/ outside every layer (a new folder) escapes the layer rules: add it to LAYERS in .dependency-cruiser.cjs and to the module map in docs/DESIGN.md.',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: EVERY_LAYER },
    },
    {
      name: 'layer-every-importer-has-one',
      severity: 'error',
      comment: 'As layer-every-module-has-one, for the importing side.',
      from: { path: '^src/', pathNot: EVERY_LAYER },
      to: { path: '^src/' },
    },
    {
      name: 'tke-params-is-a-leaf',
      severity: 'error',
      comment: 'core/ may import tke/tke-params.ts (the one exception to the layers) only because it imports nothing of ours: else it would carry the adapters into core.',
      from: { path: '^src/tke/tke-params\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'config-does-no-io',
      severity: 'error',
      comment: 'config/ reads its file and nothing else: no store, no HTTP (it is loaded at cold start, before any of them, and by npm run package).',
      from: { path: '^src/config/' },
      to: { path: '^src/(store|http)/' },
    },
    {
      name: 'zod-through-config-zod',
      severity: 'error',
      comment:
        "src/ builds schemas with the zod of src/config/zod.ts (zod/mini), which turns zod's JIT off before any schema is built (zod reads the switch at construction) and sets its English messages. Type-only imports are fine.",
      from: { path: '^src/', pathNot: '^src/config/zod\\.ts$' },
      to: { path: 'node_modules/zod/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment:
        'core/ decides with data: no I/O library (no Redis client, no SDK, no logger, no middleware). The clock and the state are arguments. (Our own I/O modules are above it: the layer rules keep them out.)',
      from: { path: '^src/core/' },
      to: { path: 'node_modules/(ioredis|tencentcloud-sdk|pino|@middy)' },
    },
    {
      name: 'core-no-node-io',
      severity: 'error',
      comment: 'core/ may hash (node:crypto) but must not touch files, sockets or processes.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], pathNot: ['^crypto$', '^node:crypto$'] },
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
