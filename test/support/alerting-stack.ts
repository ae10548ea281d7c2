import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './redis-server';

/**
 * A real Prometheus (Debian's `prometheus`) evaluating rules over a gauge the test controls, and a
 * real Alertmanager (Debian's `prometheus-alertmanager`) delivering to a webhook URL with short
 * group_wait / group_interval / repeat_interval. `npm test` installs both when missing.
 */
export interface AlertingStack {
  /** Sets the gauge the rules watch (with the default rule: > 0 fires, 0 resolves). */
  setPressure(value: number): void;
  stop(): Promise<void>;
  readonly alertmanagerUrl: string;
  output(): string;
}

/** A Prometheus alerting rule (prometheus.io/docs/prometheus/latest/configuration/alerting_rules/). */
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  /** How long the expression must hold before the alert fires (pending until then); default 0s. */
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface AlertingStackOptions {
  readonly webhookUrl: string;
  readonly bearerToken: string;
  /** The default rule's labels and annotations (ignored when `rules` is given). */
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  /** The gauge's name; default `scaleout_test_pressure`. */
  readonly metric?: string;
  /** The gauge's value from the first scrape on (default 0), so no rule fires before the test moves it. */
  readonly initialValue?: number;
  /** The rules over the gauge; default one, ClusterCPUHigh: `<metric> > 0` with `labels` and `annotations`. */
  readonly rules?: readonly AlertingRule[];
  readonly groupWait?: string;
  readonly groupInterval?: string;
  readonly repeatInterval?: string;
}

export async function startAlertingStack(options: AlertingStackOptions): Promise<AlertingStack> {
  const dir = mkdtempSync(join(tmpdir(), 'alerting-'));
  const metric = options.metric ?? 'scaleout_test_pressure';
  let pressure = options.initialValue ?? 0;
  const output: string[] = [];

  // The scrape target: one gauge the test sets.
  const target: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE ${metric} gauge\n${metric} ${pressure}\n`);
  });
  const targetPort = await freePort();
  await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', () => resolve()));

  const amPort = await freePort();
  const amClusterPort = await freePort();
  const promPort = await freePort();

  writeFileSync(
    join(dir, 'alertmanager.yml'),
    stringify({
      route: {
        receiver: 'scaleout',
        group_by: ['alertname', 'cluster'],
        group_wait: options.groupWait ?? '1s',
        group_interval: options.groupInterval ?? '2s',
        repeat_interval: options.repeatInterval ?? '3s',
      },
      receivers: [
        {
          name: 'scaleout',
          webhook_configs: [
            {
              url: options.webhookUrl,
              send_resolved: true,
              http_config: { authorization: { type: 'Bearer', credentials: options.bearerToken } },
            },
          ],
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'rules.yml'),
    stringify({
      groups: [
        {
          name: 'scaleout',
          interval: '1s',
          rules: (options.rules ?? [{ alert: 'ClusterCPUHigh', expr: `${metric} > 0`, labels: options.labels ?? {}, annotations: options.annotations ?? {} }]).map((r) => ({ for: '0s', ...r })),
        },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yml')],
      alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
      scrape_configs: [{ job_name: 'pressure', static_configs: [{ targets: [`127.0.0.1:${targetPort}`] }] }],
    }),
  );

  const run = (binary: string, args: string[]): ChildProcess => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
    return child;
  };
  const alertmanager = run(alertmanagerBinary(), [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'am-data')}`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    `--cluster.listen-address=127.0.0.1:${amClusterPort}`,
    '--cluster.peer-timeout=1s',
    '--log.level=debug',
  ]);
  const prometheus = run('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'prom-data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
    // Prometheus re-sends active alerts to Alertmanager this often; keep it short for a quick test.
    '--rules.alert.resend-delay=1s',
  ]);
  await waitForHttp(`http://127.0.0.1:${amPort}/-/ready`, () => output.join(''));
  await waitForHttp(`http://127.0.0.1:${promPort}/-/ready`, () => output.join(''));

  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return {
    setPressure: (value) => {
      pressure = value;
    },
    alertmanagerUrl: `http://127.0.0.1:${amPort}`,
    output: () => output.join(''),
    stop: async () => {
      await Promise.all([kill(prometheus), kill(alertmanager)]);
      await new Promise<void>((resolve) => target.close(() => resolve()));
    },
  };
}

function alertmanagerBinary(): string {
  // Debian names it prometheus-alertmanager; upstream tarballs name it alertmanager.
  for (const candidate of ['/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager', 'alertmanager']) {
    try {
      execFileSync('sh', ['-c', `command -v ${candidate}`], { stdio: 'pipe' });
      return candidate;
    } catch {
      // try the next name
    }
  }
  throw new Error('Alertmanager is not installed: apt-get install -y prometheus-alertmanager (npm test does this as root)');
}

async function waitForHttp(url: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready:\n${output()}`);
}

/**
 * Waits (polling every 100 ms, real time: Prometheus and Alertmanager run on it) until `condition`
 * holds; past `timeoutMs`, fails saying what was awaited, what `seen` describes (the deliveries so
 * far) and the end of the stack's output.
 */
export async function waitUntil(what: string, condition: () => boolean, seen: () => unknown, stack: AlertingStack | undefined, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; deliveries: ${JSON.stringify(seen())}\n${stack?.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
