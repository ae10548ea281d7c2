import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The layers docs/DESIGN.md draws, lowest first, written here independently of
 * .dependency-cruiser.cjs: a small tree of fixture files imports from every part of src/ into
 * every part above it, and dependency-cruiser, run with the project's own rules, must report each
 * of those imports and nothing else.
 */
const REPO_ROOT = join(__dirname, '..', '..');
const DEPCRUISE = join(REPO_ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const RULES = join(REPO_ROOT, '.dependency-cruiser.cjs');

type Layer = 'errors' | 'core' | 'adapters' | 'config' | 'rules' | 'sources' | 'scale-out' | 'app';
const ORDER: readonly Layer[] = ['errors', 'core', 'adapters', 'config', 'rules', 'sources', 'scale-out', 'app'];

/** Each part of src/ and its layer; `module` is a file in it that other fixtures import. */
const PARTS: ReadonlyArray<{ module: string; layer: Layer }> = [
  { module: 'src/errors.ts', layer: 'errors' },
  { module: 'src/core/target.ts', layer: 'core' },
  ...['tke', 'store', 'tencentcloud', 'auth', 'http', 'log'].map((folder) => ({ module: `src/${folder}/target.ts`, layer: 'adapters' as const })),
  { module: 'src/config/target.ts', layer: 'config' },
  { module: 'src/rules/target.ts', layer: 'rules' },
  { module: 'src/sources/target.ts', layer: 'sources' },
  { module: 'src/scale-out/target.ts', layer: 'scale-out' },
  { module: 'src/scf/target.ts', layer: 'app' },
  ...['scale-out-app', 'handler', 'cold-start', 'index', 'health', 'a-new-top-level-file'].map((name) => ({ module: `src/${name}.ts`, layer: 'app' as const })),
];

const rank = (layer: Layer) => ORDER.indexOf(layer);
/**
 * The fixture files of a part: where its upward value imports go (errors.ts is the only file of its
 * layer: it imports from itself), its upward type-only imports, and its allowed imports (beside the
 * target, never in it: a target stays a leaf, so that no fixture forms a cycle).
 */
const beside = (part: (typeof PARTS)[number], name: string) => part.module.replace(/(target)?\.ts$/, (_m, target?: string) => (target !== undefined ? `${name}.ts` : `-${name}.ts`));
const upwardIn = (part: (typeof PARTS)[number]) => (part.layer === 'errors' ? part.module : beside(part, 'importer'));
const specifier = (from: string, to: string) => {
  const up = '../'.repeat(from.split('/').length - 2);
  return `${up === '' ? './' : up}${to.replace(/^src\//, '').replace(/\.ts$/, '')}`;
};

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

function depcruise(cwd: string, args: readonly string[]): { violations: Violation[]; modules: number } {
  const run = spawnSync(process.execPath, [DEPCRUISE, ...args, '--config', RULES, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.stdout === '') throw new Error(`dependency-cruiser printed nothing: ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: result.summary.violations, modules: result.summary.totalCruised };
}

describe('the dependency rules (.dependency-cruiser.cjs)', () => {
  let root: string;
  const files = new Map<string, string[]>();
  const expected = new Set<string>();
  const add = (file: string, line: string) => files.set(file, [...(files.get(file) ?? []), line]);
  /** `from` imports `to`, a value or (`typeOnly`) only a type; `rule` is the violation it must be reported as, if any. */
  const importOf = (from: string, to: string, rule?: string, typeOnly = false) => {
    add(from, typeOnly ? `import type { Marker as M${files.get(from)?.length ?? 0} } from '${specifier(from, to)}';` : `import '${specifier(from, to)}';`);
    if (rule !== undefined) expected.add(`${from} -> ${to}: ${rule}`);
  };

  beforeAll(() => {
    // Every target exports a value and a type, so that value and type-only imports both resolve.
    for (const part of PARTS) add(part.module, 'export const marker = 1;\nexport type Marker = number;');
    for (const part of PARTS) {
      const rule = `layer-${part.layer}-imports-nothing-above`;
      for (const other of PARTS.filter((o) => o !== part)) {
        if (rank(other.layer) > rank(part.layer)) {
          importOf(upwardIn(part), other.module, rule);
          // errors.ts already imports it as a value: one file, one dependency.
          if (part.layer !== 'errors') importOf(beside(part, 'importer-types'), other.module, rule, true);
        } else if (part.layer !== 'errors' && !(part.layer === 'config' && /^src\/(store|http)\//.test(other.module))) {
          importOf(beside(part, 'allowed'), other.module);
        }
      }
    }
    // The one exception: core may use TKE's request shapes, from a file that imports nothing of ours.
    add('src/tke/tke-params.ts', 'export type Marker = number;');
    importOf('src/core/allowed.ts', 'src/tke/tke-params.ts');
    importOf('src/core/importer.ts', 'src/tke/target.ts', 'layer-core-imports-nothing-above');
    importOf('src/tke/tke-params.ts', 'src/core/target.ts', 'tke-params-is-a-leaf');
    // config/ does no I/O, though the adapters are below it.
    importOf('src/config/importer.ts', 'src/store/target.ts', 'config-does-no-io');
    importOf('src/config/importer.ts', 'src/http/target.ts', 'config-does-no-io');
    // A folder outside every layer is reported from both sides.
    importOf('src/stray/module.ts', 'src/core/target.ts', 'layer-every-importer-has-one');
    importOf('src/scf/importer.ts', 'src/stray/module.ts', 'layer-every-module-has-one');

    root = mkdtempSync(join(tmpdir(), 'dependency-rules-'));
    writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'preserve', moduleResolution: 'bundler', strict: true }, include: ['src'] }));
    for (const [file, lines] of files) {
      mkdirSync(dirname(join(root, file)), { recursive: true });
      writeFileSync(join(root, file), `${lines.join('\n')}\n${lines.some((l) => l.startsWith('export')) ? '' : 'export {};\n'}`);
    }
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('report an import from each layer into every layer above it, value or type-only, and nothing else', () => {
    const { violations } = depcruise(root, ['src']);
    const reported = violations.map((v) => `${v.from} -> ${v.to}: ${v.rule.name}`);
    // Layers by layer, so a failure reads as which layer leaks where.
    for (const layer of ORDER.slice(0, -1)) {
      expect(reported.filter((r) => r.endsWith(`layer-${layer}-imports-nothing-above`)).sort()).toEqual([...expected].filter((e) => e.endsWith(`layer-${layer}-imports-nothing-above`)).sort());
    }
    expect(reported.sort()).toEqual([...expected].sort());
    // Every pair of layers was tried, upward: each lower layer is reported importing from each higher one.
    const layerOf = (file: string) => PARTS.find((p) => p.module === file || (p.module.endsWith('/target.ts') && dirname(p.module) === dirname(file)))?.layer;
    const pairs = new Set(violations.map((v) => `${layerOf(v.from)} -> ${layerOf(v.to)}`));
    for (const [i, low] of ORDER.entries()) {
      for (const high of ORDER.slice(i + 1)) expect(pairs).toContain(`${low} -> ${high}`);
    }
  });

  it('find nothing in the real tree (what npm run depcheck cruises)', () => {
    const { violations, modules } = depcruise(REPO_ROOT, ['src', 'dev', 'bench', 'deploy']);
    expect(violations.map((v) => `${v.from} -> ${v.to}: ${v.rule.name}`)).toEqual([]);
    expect(modules).toBeGreaterThan(100);
  });
});
