/**
 * A Tencent Cloud API credential as the official SDKs take it: the function's role keys, which SCF
 * hands over in TENCENTCLOUD_SECRETID / TENCENTCLOUD_SECRETKEY / TENCENTCLOUD_SESSIONTOKEN.
 */
export interface ApiCredentials {
  readonly secretId: string;
  readonly secretKey: string;
  readonly token?: string;
}
