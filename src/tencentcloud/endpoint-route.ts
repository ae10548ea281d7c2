import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { ApiCredentials } from './credentials';

/**
 * Where a Tencent Cloud SDK client sends its calls, and what it signs for. Two SDK quirks shape
 * this (docs/PLATFORM.md, and tencentcloud-sdk-nodejs-common's abstract_client.js):
 *
 * 1. The SDK derives the *signing service* from the endpoint's first label
 *    (`endpoint.split(".")[0]`). Pointed at `127.0.0.1:9001` it would sign for service "127", which
 *    the real API (and a faithful stand-in) rejects. So when an override URL's host does not start
 *    with the service's label (`tke.`, `scf.`), the SDK keeps the public host as its endpoint
 *    (right service, Host header and signed host byte for byte what the real API receives) and our
 *    agent opens the TCP connection to the address the override names instead.
 * 2. Without an explicit agent the SDK sends every request through `http_proxy` when that is set,
 *    loopback included. We always pass our own keep-alive agent, which also saves a TLS handshake
 *    per call on a warm instance.
 *
 * Used by the function's TKE client (TKE_ENDPOINT) and by `npm run deploy`'s SCF client (SCF_ENDPOINT).
 */
export interface Route {
  readonly sdkEndpoint: string;
  readonly protocol: 'http://' | 'https://';
  readonly agent: http.Agent;
  readonly description: string;
}

export function routeFor(endpointUrl: string | undefined, publicHost: string): Route {
  if (endpointUrl === undefined) {
    return {
      sdkEndpoint: publicHost,
      protocol: 'https://',
      agent: new https.Agent({ keepAlive: true }),
      description: `https://${publicHost}`,
    };
  }
  const url = new URL(endpointUrl);
  const service = publicHost.split('.')[0]!;
  const secure = url.protocol === 'https:';
  const protocol = secure ? 'https://' : 'http://';
  if (url.hostname.startsWith(`${service}.`)) {
    // A real host name of the service (public, regional or internal): sign and connect as it says.
    return {
      sdkEndpoint: url.host,
      protocol,
      agent: secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true }),
      description: `${protocol}${url.host}`,
    };
  }
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const agent = secure
    ? new (class extends https.Agent {
        override createConnection(): net.Socket {
          return tls.connect({ host, port, servername: net.isIP(host) ? undefined : host });
        }
      })({ keepAlive: true })
    : new (class extends http.Agent {
        override createConnection(): net.Socket {
          return net.connect({ host, port });
        }
      })({ keepAlive: true });
  return {
    sdkEndpoint: publicHost,
    protocol,
    agent,
    description: `${protocol}${url.host} (signed as ${publicHost})`,
  };
}

/**
 * An official SDK client's config for calls through `route`: the credentials read afresh for every
 * request (SCF's role keys are temporary and arrive through the environment), the route's endpoint,
 * protocol and agent, and the SDK's own bound on one request.
 */
export function sdkClientConfig(route: Route, region: string, credentials: () => ApiCredentials, timeoutMs: number) {
  return {
    credential: {
      getCredential: async () => {
        const c = credentials();
        return { secretId: c.secretId, secretKey: c.secretKey, ...(c.token !== undefined && { token: c.token }) };
      },
    },
    region,
    profile: { httpProfile: { endpoint: route.sdkEndpoint, protocol: route.protocol, reqTimeout: Math.ceil(timeoutMs / 1000), agent: route.agent } },
  };
}

/** One SDK client per region, built on its first call (one instance may scale clusters in several regions). */
export function clientPerRegion<C>(build: (region: string) => C): (region: string) => C {
  const clients = new Map<string, C>();
  return (region) => {
    let client = clients.get(region);
    if (client === undefined) {
      client = build(region);
      clients.set(region, client);
    }
    return client;
  };
}
