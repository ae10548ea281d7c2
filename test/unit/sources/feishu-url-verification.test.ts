import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptFeishu } from '../../../src/auth/feishu-crypto';
import { feishuUrlVerification } from '../../../src/sources/feishu-url-verification';

/**
 * The challenge's fast path, on its own: Feishu's url_verification
 * ({"challenge", "token", "type": "url_verification"}, open.feishu.cn event subscription docs; with
 * an Encrypt Key the same JSON arrives as {"encrypt": ...}) is echoed only when the token is one of
 * the configured ones; anything else is left to the full function (undefined).
 */
function packagedConfig(feishu: Record<string, unknown>): NodeJS.ProcessEnv {
  const root = mkdtempSync(join(tmpdir(), 'fast-path-'));
  mkdirSync(join(root, 'config'));
  writeFileSync(join(root, 'config', 'scaleout.json'), JSON.stringify({ sources: { feishu } }));
  return { SCALEOUT_CONFIG: join(root, 'config', 'scaleout.json') };
}

const event = (body: unknown, path = '/hooks/feishu') => ({ httpMethod: 'POST', path, headers: {}, body: JSON.stringify(body) });
const challenge = (token: string) => ({ challenge: 'ajls384kdjx98XX', token, type: 'url_verification' });

describe('feishuUrlVerification', () => {
  it('echoes the challenge for the current or a previous token, and nothing else', () => {
    jest.isolateModules(() => {
      const { feishuUrlVerification: fast } = require('../../../src/sources/feishu-url-verification') as typeof import('../../../src/sources/feishu-url-verification');
      const env = { ...packagedConfig({ verificationTokenEnv: ['FS_NEW', 'FS_OLD'] }), FS_NEW: 'new', FS_OLD: 'old' };
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(JSON.parse(fast(event(challenge('new')), env)!.body)).toEqual({ challenge: 'ajls384kdjx98XX' });
        expect(fast(event(challenge('old')), env)?.statusCode).toBe(200);
        expect(fast(event(challenge('guess')), env)).toBeUndefined();
        expect(fast(event({ schema: '2.0', header: { event_type: 'im.message.receive_v1' } }), env)).toBeUndefined();
        expect(fast(event(challenge('new'), '/hooks/slack'), env)).toBeUndefined();
        expect(fast({ ...event(challenge('new')), httpMethod: 'GET' }, env)).toBeUndefined();
      } finally {
        write.mockRestore();
      }
    });
  });

  it('decrypts with the Encrypt Key, and leaves an unencrypted challenge to the full function when one is set', () => {
    jest.isolateModules(() => {
      const { feishuUrlVerification: fast } = require('../../../src/sources/feishu-url-verification') as typeof import('../../../src/sources/feishu-url-verification');
      const env = { ...packagedConfig({ verificationTokenEnv: 'FS_TOKEN', encryptKeyEnv: 'FS_KEY' }), FS_TOKEN: 't', FS_KEY: 'k' };
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      try {
        expect(fast(event({ encrypt: encryptFeishu(JSON.stringify(challenge('t')), 'k') }), env)?.statusCode).toBe(200);
        expect(fast(event({ encrypt: encryptFeishu(JSON.stringify(challenge('t')), 'other') }), env)).toBeUndefined();
        expect(fast(event(challenge('t')), env)).toBeUndefined();
      } finally {
        write.mockRestore();
      }
    });
  });

  it('never takes a blank token for one, and does nothing without a packaged JSON config', () => {
    jest.isolateModules(() => {
      const { feishuUrlVerification: fast } = require('../../../src/sources/feishu-url-verification') as typeof import('../../../src/sources/feishu-url-verification');
      const env = { ...packagedConfig({ verificationTokenEnv: 'FS_TOKEN' }), FS_TOKEN: '  ' };
      expect(fast(event(challenge('  ')), env)).toBeUndefined();
    });
    expect(feishuUrlVerification(event(challenge('x')), { SCALEOUT_CONFIG: 'config/example.yaml' })).toBeUndefined();
  });
});
