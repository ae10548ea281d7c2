import { syncWriter } from '../../../src/log/logger';

/**
 * The log's stdout writer in place of sonic-boom (build/shims/sonic-boom.js): a line goes out
 * whole, through partial writes and a full pipe's EAGAIN, as sonic-boom's sync mode does
 * (pinojs/sonic-boom index.js: writeSync loops on the bytes left, and retries EAGAIN after a wait).
 */
describe('syncWriter', () => {
  it('writes the whole line, however many partial writes it takes', () => {
    const out: Buffer[] = [];
    const writer = syncWriter(1, (_fd, data) => {
      const n = Math.min(3, data.length);
      out.push(Buffer.from(data.subarray(0, n)));
      return n;
    });
    writer.write('{"msg":"scale-out decision"}\n');
    expect(Buffer.concat(out).toString()).toBe('{"msg":"scale-out decision"}\n');
  });

  it('waits and tries again while the pipe is full (EAGAIN), then writes', () => {
    let refusals = 2;
    const out: string[] = [];
    const writer = syncWriter(1, (_fd, data) => {
      if (refusals-- > 0) throw Object.assign(new Error('EAGAIN: resource temporarily unavailable'), { code: 'EAGAIN' });
      out.push(data.toString());
      return data.length;
    });
    writer.write('line\n');
    expect(out).toEqual(['line\n']);
  });

  it('any other error is thrown, not swallowed', () => {
    const writer = syncWriter(1, () => {
      throw Object.assign(new Error('EBADF'), { code: 'EBADF' });
    });
    expect(() => writer.write('x\n')).toThrow('EBADF');
  });
});
