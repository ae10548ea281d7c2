import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfigFile, parseConfig, validatedFormOf, VALIDATED_SUFFIX } from '../../../src/config/load-config';
import { configProblems, EXAMPLE_CONFIG_PATH, exampleConfig, fixture } from '../../support/fixtures';

const problemsOf = configProblems;

const minimal = (templateExtra = '', sources = 'sources:\n  generic:\n    auth: none\n') => `
clusters:
  demo: { clusterId: cls-e55paxnt, region: ap-guangzhou }
templates:
  small:
    clusters: [demo]
    count: { max: 3 }
    runInstancePara: { Placement: { Zone: ap-guangzhou-4 }, InstanceType: S3.SMALL1, DataDisks: [{ DiskSize: 50 }] }
${templateExtra}
${sources}`;

describe('loadConfigFile: the shipped example', () => {
  const config = exampleConfig();

  it('declares the demo clusters and the three templates (one with a ladder, on a cluster with a money budget)', () => {
    expect(config.clusters.get('demo')).toMatchObject({ alias: 'demo', clusterId: 'cls-e55paxnt', region: 'ap-guangzhou' });
    expect(config.clusters.get('demo-bj')).toMatchObject({ alias: 'demo-bj', clusterId: 'cls-nfjdk3n0', region: 'ap-beijing' });
    expect([...config.templates.keys()]).toEqual(['small', 'multi-disk', 'burst']);
    expect(config.templates.get('burst')?.ladder?.alternatives).toHaveLength(3);
    expect(config.clusters.get('demo-sh')?.costBudget).toEqual({ currency: 'CNY', windowSeconds: 86400, hourly: 12, prepaid: 2000 });
    expect(config.sources.generic?.auth).toEqual({ bearer: { tokenEnv: 'SCALEOUT_GENERIC_TOKEN' } });
  });

  it('reproduces the seed examples field for field (less InstanceCount, which the event sets)', () => {
    const seed1 = fixture<{ RunInstancePara: string }>('seed-example-1.json');
    expect(config.templates.get('small')!.runInstancePara).toEqual(JSON.parse(seed1.RunInstancePara));

    const seed2 = fixture<{ RunInstancePara: string; InstanceAdvancedSettings: unknown }>('seed-example-2.json');
    const { InstanceCount, ...seedPara } = JSON.parse(seed2.RunInstancePara) as Record<string, unknown>;
    expect(InstanceCount).toBe(1);
    const multiDisk = config.templates.get('multi-disk')!;
    expect(multiDisk.runInstancePara).toEqual(seedPara);
    expect(multiDisk.instanceAdvancedSettings).toEqual(seed2.InstanceAdvancedSettings);
    expect(multiDisk.count.default).toBe(1);
  });

  it('is frozen: a request cannot change it', () => {
    const small = config.templates.get('small')!;
    expect(() => {
      (small.runInstancePara as Record<string, unknown>).InstanceType = 'X';
    }).toThrow(TypeError);
    expect(() => (config.templates as Map<string, unknown>).set('evil', {})).toThrow(TypeError);
    expect(() => (config.clusters as Map<string, unknown>).delete('demo')).toThrow(TypeError);
  });

  it('applies defaults for the optional sections', () => {
    expect(config.limits.maxBodyBytes).toBe(65536);
    expect(config.idempotency.ttlSeconds).toBe(86400);
    expect(config.tke).toMatchObject({ maxAttempts: 4, baseDelayMs: 200, attemptTimeoutMs: 8000 });
  });
});

describe('parseConfig: every error names the key and what was expected', () => {
  it('accepts the minimal config with auth: none', () => {
    expect(parseConfig(minimal(), 't').templates.get('small')!.count).toEqual({ default: 1, max: 3, clamp: false });
  });

  it.each([
    ['a misspelt key, with a hint', minimal('    cuont: 2'), 'templates.small.cuont: unknown key; did you mean count?'],
    [
      'a misspelt RunInstancePara key, with a hint',
      minimal().replace('InstanceType: S3', 'InstanceTyep: S3'),
      'templates.small.runInstancePara.InstanceTyep: unknown key; did you mean InstanceType?',
    ],
    ['ClientToken in a template', minimal().replace('InstanceType:', 'ClientToken: x, InstanceType:'), 'templates.small.runInstancePara.ClientToken: is derived from each event by the function; remove it'],
    ['InstanceCount in a template', minimal().replace('InstanceType:', 'InstanceCount: 2, InstanceType:'), 'templates.small.runInstancePara.InstanceCount: is set from the event count; use count.default and count.max instead'],
    ['no auth for the generic sender', minimal('', 'sources:\n  generic: {}\n'), 'sources.generic.auth: is required; see the config reference in README.md'],
    ['a misspelt auth key', minimal('', 'sources:\n  generic:\n    auth: { bearer: { tokenEnvv: X } }\n'), 'sources.generic.auth.bearer.tokenEnvv: unknown key; did you mean tokenEnv?'],
    ['both bearer and hmac', minimal('', 'sources:\n  generic:\n    auth: { bearer: { tokenEnv: A }, hmac: { secretEnv: B } }\n'), 'sources.generic.auth: set exactly one of bearer or hmac'],
    ['a reserved env var prefix', minimal('', 'sources:\n  generic:\n    auth: { bearer: { tokenEnv: TENCENTCLOUD_TOKEN } }\n'), 'sources.generic.auth.bearer.tokenEnv: SCF reserves the prefixes SCF_, QCLOUD_ and TENCENTCLOUD_'],
    ['a malformed ClusterId', minimal().replace('cls-e55paxnt', 'cluster-1'), 'clusters.demo.clusterId: must be a TKE cluster ID such as cls-e55paxnt'],
    ['count default above max', minimal().replace('{ max: 3 }', '{ default: 4, max: 3 }'), 'templates.small.count.default: default must not exceed max'],
    ['count above CVM limit', minimal().replace('{ max: 3 }', '{ max: 501 }'), 'templates.small.count.max: Too big: expected number to be <=500'],
    ['an unknown cluster in a template', minimal().replace('clusters: [demo]', 'clusters: [demo, prod]'), 'templates.small.clusters.1: unknown cluster "prod"; declared: demo'],
    [
      'a param past the end of a template list',
      minimal('    params:\n      size: { path: RunInstancePara.DataDisks.3.DiskSize, min: 50, max: 100 }'),
      'templates.small.params.size.path: RunInstancePara.DataDisks.3.DiskSize: index 3 is past the end of a list of 1 in the template',
    ],
    [
      'a param writing the ClientToken',
      minimal('    params:\n      t: { path: RunInstancePara.ClientToken, values: [a] }'),
      'templates.small.params.t.path: RunInstancePara.ClientToken: is written by the function itself',
    ],
    ['a param with neither values nor range', minimal('    params:\n      z: { path: RunInstancePara.Placement.Zone }'), 'templates.small.params.z: set either values or min and max'],
    ['a prototype path segment', minimal('    params:\n      z: { path: RunInstancePara.__proto__.x, values: [a] }'), 'templates.small.params.z.path: RunInstancePara.__proto__.x: segment __proto__ is not allowed'],
    ['an unknown top-level section', `${minimal()}\nthrotle: {}\n`, 'throtle: unknown key; did you mean throttle?'],
    ['a throttle key misspelt', `${minimal()}\nthrottle: { cooldown: 10 }\n`, 'throttle.cooldown: unknown key'],
    ['a window shorter than a minute', `${minimal()}\nthrottle: { windowSeconds: 5 }\n`, 'throttle.windowSeconds: Too small'],
    ['a cluster\'s Kubernetes API with neither token nor client certificate', minimal().replace('region: ap-guangzhou }', 'region: ap-guangzhou, kubernetes: { serverEnv: K_SERVER } }'), 'clusters.demo.kubernetes: set exactly one of tokenEnv, or clientCertEnv with clientKeyEnv'],
    ['a cluster\'s Kubernetes API with both', minimal().replace('region: ap-guangzhou }', 'region: ap-guangzhou, kubernetes: { serverEnv: K_SERVER, tokenEnv: K_TOKEN, clientCertEnv: K_CERT, clientKeyEnv: K_KEY } }'), 'clusters.demo.kubernetes: set exactly one of tokenEnv, or clientCertEnv with clientKeyEnv'],
    ['a client certificate without its key', minimal().replace('region: ap-guangzhou }', 'region: ap-guangzhou, kubernetes: { serverEnv: K_SERVER, clientCertEnv: K_CERT } }'), 'clusters.demo.kubernetes.clientKeyEnv: a client certificate needs its key'],
    ['a duplicate YAML key', minimal().replace('templates:', 'templates:\n  small: { clusters: [demo] }'), 'YAML: Map keys must be unique'],
    ['a YAML syntax error', 'clusters: [', 'YAML: '],
  ])('%s', (_name, yaml, expected) => {
    const problems = problemsOf(yaml);
    expect(problems.some((p) => p.startsWith(expected))).toBe(true);
  });

  it("takes a cluster's Kubernetes API with a bearer token or with a client certificate and its key", () => {
    const withCert = parseConfig(minimal().replace('region: ap-guangzhou }', 'region: ap-guangzhou, kubernetes: { serverEnv: K_SERVER, clientCertEnv: K_CERT, clientKeyEnv: K_KEY, caEnv: K_CA } }'), 't');
    expect(withCert.clusters.get('demo')!.kubernetes).toEqual({ serverEnv: 'K_SERVER', clientCertEnv: 'K_CERT', clientKeyEnv: 'K_KEY', caEnv: 'K_CA' });
    expect(parseConfig(minimal().replace('region: ap-guangzhou }', 'region: ap-guangzhou, kubernetes: { serverEnv: K_SERVER, tokenEnv: K_TOKEN } }'), 't').clusters.get('demo')!.kubernetes).toEqual({ serverEnv: 'K_SERVER', tokenEnv: 'K_TOKEN' });
  });

  it('reports every problem at once, not just the first', () => {
    const problems = problemsOf(minimal('    cuont: 2').replace('cls-e55paxnt', 'bad'));
    expect(problems.length).toBeGreaterThanOrEqual(2);
  });

  it('rejects the same ClusterId under two aliases', () => {
    const problems = problemsOf(minimal().replace('templates:', '  again: { clusterId: cls-e55paxnt, region: ap-guangzhou }\ntemplates:'));
    expect(problems).toContain('clusters.again.clusterId: cls-e55paxnt is already declared as demo');
  });

  it('merges throttle defaults with cluster overrides, and keeps a template override for its own scope', () => {
    const config = parseConfig(
      minimal('    throttle: { maxNodesPerWindow: 4 }')
        .replace('region: ap-guangzhou }', 'region: ap-guangzhou, throttle: { cooldownSeconds: 60, maxClusterNodes: 40 } }')
        .concat('throttle: { maxNodesPerWindow: 30 }\n'),
      't',
    );
    expect(config.clusters.get('demo')!.throttle).toEqual({ cooldownSeconds: 60, windowSeconds: 3600, maxNodesPerWindow: 30, maxClusterNodes: 40 });
    expect(config.templates.get('small')!.throttle).toEqual({ maxNodesPerWindow: 4 });
  });

  it('lets a param write two paths (a disk bought and mounted)', () => {
    const config = exampleConfig();
    expect(config.templates.get('multi-disk')!.params.get('dataDiskSize')!.writes.map((w) => w.path)).toEqual([
      'RunInstancePara.DataDisks.1.DiskSize',
      'InstanceAdvancedSettings.DataDisks.1.DiskSize',
    ]);
  });
});

describe('loadConfigFile: the compiled JSON that `npm run package` ships', () => {
  const compiled = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'scaleout-json-')), 'scaleout.json');
    writeFileSync(path, text);
    return path;
  };

  it('loads to the same config as the YAML it was compiled from', () => {
    const json = JSON.stringify(parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')));
    const fromJson = loadConfigFile(compiled(json));
    const fromYaml = exampleConfig();
    expect({ ...fromJson, origin: '' }).toEqual({ ...fromYaml, origin: '' });
    expect(Object.isFrozen(fromJson.templates.get('small'))).toBe(true);
  });

  it('is validated as the YAML is, naming the key', () => {
    const doc = parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')) as Record<string, any>;
    doc.templates.small.count.max = 0;
    expect(() => loadConfigFile(compiled(JSON.stringify(doc)))).toThrow(/templates\.small\.count\.max/);
  });

  it('names a JSON syntax error as such', () => {
    expect(() => loadConfigFile(compiled('{"clusters": '))).toThrow(/JSON: /);
  });
});

// Replays after the record expires.
describe('the replay floor', () => {
  it('refuses idempotency.ttlSeconds shorter than twice a signing sender\'s window, naming both keys and the least to set', () => {
    const yaml = `${minimal('', 'sources:\n  slack: { signingSecretEnv: SLACK_SECRET }\n  dingtalk: { appSecretEnv: DT_SECRET }\n')}\nidempotency: { ttlSeconds: 3600 }\n`;
    expect(problemsOf(yaml)).toEqual([
      'idempotency.ttlSeconds: 3600 s is shorter than twice sources.dingtalk.toleranceSeconds (3600 s): a signed request could be replayed after its event is forgotten and be handled again; set at least 7200',
    ]);
    // (A ttl under an hour needs a node budget window no longer than it: checked on its own.)
    const generic = `${minimal('', 'sources:\n  generic: { auth: { hmac: { secretEnv: S, toleranceSeconds: 600 } } }\n')}\nidempotency: { ttlSeconds: 900 }\nthrottle: { windowSeconds: 900 }\n`;
    expect(problemsOf(generic)).toEqual([expect.stringMatching(/^idempotency\.ttlSeconds: 900 s is shorter than twice sources\.generic\.auth\.hmac\.toleranceSeconds \(600 s\).*set at least 1200$/)]);
    expect(() => parseConfig(`${minimal('', 'sources:\n  slack: { signingSecretEnv: SLACK_SECRET }\n')}\nidempotency: { ttlSeconds: 600 }\nthrottle: { windowSeconds: 600 }\n`, 't.yaml')).not.toThrow();
  });

  it('refuses Grafana HMAC without a timestamp header unless the config accepts replays in so many words', () => {
    const grafana = (hmac: string) => minimal('', `sources:\n  grafana: { auth: { hmac: { secretEnv: G, ${hmac} } } }\n`);
    const [problem] = problemsOf(grafana('header: X-Grafana-Alerting-Signature'));
    expect(problem).toMatch(/^sources\.grafana\.auth\.hmac\.timestampHeader: is required: Grafana signs the body alone .* or write acceptReplays: true to accept that risk$/);
    expect(() => parseConfig(grafana('timestampHeader: X-Grafana-Alerting-Timestamp'), 't.yaml')).not.toThrow();
    expect(() => parseConfig(grafana('acceptReplays: true'), 't.yaml')).not.toThrow();
    expect(problemsOf(grafana('acceptReplays: false'))[0]).toMatch(/^sources\.grafana\.auth\.hmac\.acceptReplays: /);
    expect(problemsOf(grafana('timestampHeader: X-T, acceptReplays: true'))).toEqual(['sources.grafana.auth.hmac.acceptReplays: applies only without timestampHeader; remove it']);
  });

  it('accepts a secret env var as a list (rotation) and refuses an empty list', () => {
    expect(() => parseConfig(minimal('', 'sources:\n  slack: { signingSecretEnv: [SLACK_NEW, SLACK_OLD] }\n'), 't.yaml')).not.toThrow();
    expect(problemsOf(minimal('', 'sources:\n  slack: { signingSecretEnv: [] }\n'))[0]).toMatch(/^sources\.slack\.signingSecretEnv/);
  });
});

describe('spelling hints', () => {
  // The known keys come from the schema itself: a key added to the schema is hinted
  // without a second list to keep in step.
  it('hint keys added to the schema, anywhere in it', () => {
    const yaml = `${minimal()}\nstore: { acceptEvictngPolicy: true }\nlimits: { maxAlarmBodyByte: 1024 }\n`;
    expect(problemsOf(yaml).sort()).toEqual([
      'limits.maxAlarmBodyByte: unknown key; did you mean maxAlarmBodyBytes?',
      'store.acceptEvictngPolicy: unknown key; did you mean acceptEvictingPolicy?',
    ]);
  });
});

describe('defaults', () => {
  // Each section's defaults are written once, on its fields (zod's prefault runs the section's own
  // schema on an absent section), so an omitted section and an empty one are the same.
  it('fill every section a config leaves out, from the fields\' own defaults', () => {
    const config = parseConfig(minimal(), 't.yaml');
    expect(config.tke).toEqual({ maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 2_000, attemptTimeoutMs: 8_000, fallbackDeadlineMs: 25_000 });
    expect(config.store).toEqual({ keyPrefix: 'tke-scaleout:', commandTimeoutMs: 500, acceptEvictingPolicy: false });
    expect(config.idempotency).toEqual({ ttlSeconds: 86_400 });
    expect(config.limits).toEqual({ maxBodyBytes: 65_536, maxAlarmBodyBytes: 6 * 1024 * 1024 });
    expect(config.clusters.get('demo')!.throttle).toEqual({ cooldownSeconds: 300, windowSeconds: 3600, maxNodesPerWindow: 20 });
    const empty = parseConfig(`${minimal()}\ntke: {}\nstore: {}\nthrottle: {}\n`, 't.yaml');
    expect(empty.tke).toEqual(config.tke);
    expect(empty.store).toEqual(config.store);
  });
});

describe('the packaged config\'s validated form', () => {
  // A cold start skips the schema when npm run package's validated form matches the file.
  const packaged = () => {
    const dir = mkdtempSync(join(tmpdir(), 'packaged-'));
    const path = join(dir, 'scaleout.json');
    writeFileSync(path, JSON.stringify(parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8'))));
    return path;
  };

  it('is used when its digest matches the file: the schema is not run again', () => {
    const path = packaged();
    const form = JSON.parse(validatedFormOf(path)) as { config: { tke: { maxAttempts: number } } };
    // Marked, to see which one the loader took.
    form.config.tke.maxAttempts = 9;
    writeFileSync(path.replace(/\.json$/, VALIDATED_SUFFIX), JSON.stringify(form));
    expect(loadConfigFile(path).tke.maxAttempts).toBe(9);
  });

  it('is ignored when the file changed after packaging: the file is validated in full', () => {
    const path = packaged();
    writeFileSync(path.replace(/\.json$/, VALIDATED_SUFFIX), validatedFormOf(path));
    const doc = JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
    doc.tke = { maxAttempts: 6 };
    writeFileSync(path, JSON.stringify(doc));
    expect(loadConfigFile(path).tke.maxAttempts).toBe(6);
    doc.templates.small.count.max = 0;
    writeFileSync(path, JSON.stringify(doc));
    expect(() => loadConfigFile(path)).toThrow(/templates\.small\.count\.max/);
  });
});
