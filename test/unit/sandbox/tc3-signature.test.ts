import { parseTc3Authorization, tc3Signature } from '../../../dev/sandbox/tc3-signature';

describe('tc3Signature (the sandbox verifier)', () => {
  // Tencent Cloud's published example for signature v3 (docs/PLATFORM.md).
  const vector = {
    method: 'POST',
    canonicalUri: '/',
    canonicalQuery: '',
    headers: { 'content-type': 'application/json; charset=utf-8', host: 'cvm.tencentcloudapi.com' },
    signedHeaders: ['content-type', 'host'],
    payload: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
    timestamp: 1551113065,
    service: 'cvm',
    secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
  };

  it('reproduces the published test vector', () => {
    const { signature, canonicalRequest } = tc3Signature(vector);
    expect(canonicalRequest).toBe(
      'POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n' +
        '35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064',
    );
    expect(signature).toBe('72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168');
  });

  it('changes with one byte of the body, the service or the key', () => {
    const base = tc3Signature(vector).signature;
    expect(tc3Signature({ ...vector, payload: vector.payload.replace('1', '2') }).signature).not.toBe(base);
    expect(tc3Signature({ ...vector, service: 'tke' }).signature).not.toBe(base);
    expect(tc3Signature({ ...vector, secretKey: `${vector.secretKey}x` }).signature).not.toBe(base);
  });

  it('parses the Authorization header the SDK sends, and refuses others', () => {
    const header =
      'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168';
    expect(parseTc3Authorization(header)).toEqual({
      secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
      date: '2019-02-25',
      service: 'cvm',
      signedHeaders: ['content-type', 'host'],
      signature: '72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168',
    });
    expect(parseTc3Authorization('Bearer abc')).toBeUndefined();
    expect(parseTc3Authorization(header.replace('TC3-HMAC-SHA256', 'HMAC-SHA1'))).toBeUndefined();
  });
});
