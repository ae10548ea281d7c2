import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createKubeApi } from '../../src/kubernetes/kube-api';
import { KubeApiError } from '../../src/errors';

/**
 * The Kubernetes API client over real TLS, as a cluster's intranet endpoint serves it: the cluster's
 * own CA (not the system's), and either a bearer token (a ServiceAccount's) or a client certificate
 * (a kubeconfig user's client-certificate-data / client-key-data: k8s.io/client-go
 * tools/clientcmd/api/v1 types.go, AuthInfo, "PEM-encoded data from a client cert file for TLS").
 * The certificates are made by openssl for this test: a CA, a server certificate for 127.0.0.1 and
 * a client certificate, both signed by the CA.
 */
let dir: string;
const pem = (name: string) => readFileSync(join(dir, name), 'utf8');
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kube-tls-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=cluster-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.ext');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=tke-scaleout');
  openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '1');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  readonly commonName?: string;
  readonly authorization?: string;
}

/** An API server that answers GET /api/v1/nodes with one node, noting who called. */
async function apiServer(requireClientCert: boolean): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer({ key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: requireClientCert, rejectUnauthorized: requireClientCert }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    seen.push({ ...(peer?.subject?.CN !== undefined && { commonName: String(peer.subject.CN) }), ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }) });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'NodeList', items: [{ metadata: { name: '10.0.0.7', labels: {} }, spec: { providerID: 'qcloud:///800002/ins-abc123' }, status: { allocatable: { cpu: '4', memory: '8Gi' } } }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const signal = () => AbortSignal.timeout(5_000);

describe('the Kubernetes API client over TLS', () => {
  it('a client certificate (a kubeconfig user) against the cluster CA: the server sees its CN, and no bearer token is sent', async () => {
    const api = await apiServer(true);
    try {
      const kube = createKubeApi({ server: api.url, caPem: pem('ca.crt'), credentials: { certPem: pem('client.crt'), keyPem: pem('client.key') } });
      expect(kube.description).toBe(`${api.url} (client certificate, cluster CA)`);
      const nodes = await kube.listNodes('', signal());
      expect(nodes.map((n) => [n.name, n.providerID, n.allocatable.cpuMillis])).toEqual([['10.0.0.7', 'qcloud:///800002/ins-abc123', 4000]]);
      expect(api.seen).toEqual([{ commonName: 'tke-scaleout' }]);
    } finally {
      api.server.close();
    }
  });

  it('without its client certificate the mutual TLS handshake fails: a KubeApiError that names the call', async () => {
    const api = await apiServer(true);
    try {
      const kube = createKubeApi({ server: api.url, caPem: pem('ca.crt'), credentials: { token: 'sa-token' } });
      const error = await kube.listNodes('', signal()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KubeApiError);
      expect((error as Error).message).toContain('GET nodes');
      expect(api.seen).toEqual([]);
    } finally {
      api.server.close();
    }
  });

  it('a bearer token against the cluster CA; without the CA the server is not trusted (the system CAs do not know it), and the token never leaves', async () => {
    const api = await apiServer(false);
    try {
      const trusted = createKubeApi({ server: api.url, caPem: pem('ca.crt'), credentials: { token: 'sa-token' } });
      await trusted.listNodes('', signal());
      expect(api.seen).toEqual([{ authorization: 'Bearer sa-token' }]);
      const untrusted = createKubeApi({ server: api.url, credentials: { token: 'sa-token-2' } });
      const error = await untrusted.listNodes('', signal()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KubeApiError);
      expect((error as Error).message).not.toContain('sa-token');
      expect(api.seen).toHaveLength(1);
    } finally {
      api.server.close();
    }
  });
});
