// The zip SCF takes: deflated entries (Zopfli's when it can be had, build/zopfli.mjs, else zlib's
// best level), each with a fixed time and mode so that the same files make the same bytes. A zip
// is a few headers around the deflated data; written here because the zip library the packaging
// used deflated with zlib only.
import { writeFileSync } from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { zopfliDeflate } from './zopfli.mjs';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (data) => {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};

/**
 * Writes `entries` ({ name, data }) to `path`, each stamped `time` (UTC, so that the zip does not
 * depend on the packaging machine's time zone) with mode 0644. Returns which deflate it used.
 */
export async function writeZip(path, entries, time) {
  const zopfli = zopfliDeflate();
  const deflate = zopfli.deflate ?? (async (data) => deflateRawSync(data, { level: 9 }));
  const dosTime = (time.getUTCHours() << 11) | (time.getUTCMinutes() << 5) | (time.getUTCSeconds() >> 1);
  const dosDate = ((time.getUTCFullYear() - 1980) << 9) | ((time.getUTCMonth() + 1) << 5) | time.getUTCDate();
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const deflated = await deflate(data);
    const fileName = Buffer.from(name, 'utf8');
    // The fields a local header and the central directory share, from "version needed" on.
    const common = Buffer.alloc(26);
    common.writeUInt16LE(20, 0); // version needed: 2.0 (deflate)
    common.writeUInt16LE(0x0800, 2); // the name is UTF-8
    common.writeUInt16LE(8, 4); // deflate
    common.writeUInt16LE(dosTime, 6);
    common.writeUInt16LE(dosDate, 8);
    common.writeUInt32LE(crc32(data), 10);
    common.writeUInt32LE(deflated.length, 14);
    common.writeUInt32LE(data.length, 18);
    common.writeUInt16LE(fileName.length, 22);
    common.writeUInt16LE(0, 24); // no extra field
    const local = Buffer.concat([u32(0x04034b50), common, fileName, deflated]);
    const tail = Buffer.alloc(14);
    tail.writeUInt32LE((0o100644 << 16) >>> 0, 6); // external attributes: a regular file, rw-r--r--
    tail.writeUInt32LE(offset, 10);
    // Central directory: signature, "version made by" (3 = Unix, so that the mode counts), the
    // common fields, then comment length, disk, internal attributes (0) and the two above.
    centrals.push(Buffer.concat([u32(0x02014b50), u16((3 << 8) | 20), common, tail, fileName]));
    locals.push(local);
    offset += local.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(path, Buffer.concat([...locals, directory, end]));
  return zopfli.deflate !== undefined ? 'Zopfli' : `zlib (Zopfli unavailable: ${zopfli.reason})`;
}

const u16 = (value) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return b;
};
const u32 = (value) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
};
