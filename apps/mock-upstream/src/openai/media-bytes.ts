import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

// Byte-level fixtures for the OpenAI media endpoints: a real PNG, real WAV/PCM silence, real MP3 frames,
// and deterministic embedding vectors.

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typed) >>> 0);
  return Buffer.concat([len, typed, crc]);
}

function buildPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(1, 0); // width
  ihdr.writeUInt32BE(1, 4); // height
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  // compression, filter, interlace: 0
  const scanline = Buffer.from([0, 0x7f, 0x7f, 0x7f, 0xff]); // filter byte, one grey pixel
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(scanline)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A valid 1x1 PNG, the image every image endpoint returns. */
export const MOCK_PNG: Buffer = buildPng();

export const SPEECH_SAMPLE_RATE = 24000;

/** 16-bit mono PCM silence. */
export function pcmSilence(seconds: number): Buffer {
  return Buffer.alloc(seconds * SPEECH_SAMPLE_RATE * 2);
}

/** A standard 44-byte RIFF/WAVE header followed by the samples. */
export function wavFile(pcm: Buffer, sampleRate = SPEECH_SAMPLE_RATE, channels = 1, bitsPerSample = 16): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = (channels * bitsPerSample) / 8;
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + pcm.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16); // fmt chunk size
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * blockAlign, 28); // byte rate
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(bitsPerSample, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([h, pcm]);
}

/**
 * MPEG-2 Layer III frame header, 32 kbps, 24 kHz, mono, no CRC, no padding:
 *   FF F3 = sync (11 ones), version 10 (MPEG-2), layer 01 (III), protection 1 (no CRC)
 *   44    = bitrate index 0100 (32 kbps in the MPEG-2 L3 table), sample-rate index 01 (24000 Hz), padding 0, private 0
 *   C4    = channel mode 11 (mono), mode extension 00, copyright 0, original 1, emphasis 00
 * (0x48 would be sample-rate index 10 = 16000 Hz.)
 */
export const MP3_FRAME_HEADER = Buffer.from([0xff, 0xf3, 0x44, 0xc4]);
/** 72 * bitrate / sampleRate for MPEG-2 Layer III: 72 * 32000 / 24000 */
export const MP3_FRAME_BYTES = 96;
/** 576 samples at 24 kHz */
export const MP3_FRAME_MS = 24;

/** Silent CBR frames covering `seconds`: the header then zeros (empty side info, no main data). */
export function mp3Silence(seconds: number): Buffer {
  const frames = Math.ceil((seconds * 1000) / MP3_FRAME_MS);
  const out = Buffer.alloc(frames * MP3_FRAME_BYTES);
  for (let f = 0; f < frames; f++) MP3_FRAME_HEADER.copy(out, f * MP3_FRAME_BYTES);
  return out;
}

/** Exact duration of a RIFF/WAVE file (data bytes / byte rate), or undefined when it is not one. */
export function wavDurationSeconds(buf: Buffer): number | undefined {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return undefined;
  let byteRate: number | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ' && off + 20 <= buf.length) byteRate = buf.readUInt32LE(off + 16);
    if (id === 'data') {
      const dataBytes = Math.min(size, buf.length - off - 8);
      return byteRate ? dataBytes / byteRate : undefined;
    }
    off += 8 + size + (size % 2); // chunks are word aligned
  }
  return undefined;
}

/** A unit vector of `dimensions` floats, deterministic from the text. */
export function embeddingVector(text: string, dimensions: number): number[] {
  const raw: number[] = [];
  for (let block = 0; raw.length < dimensions; block++) {
    const digest = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 4 <= digest.length && raw.length < dimensions; i += 4) {
      raw.push(digest.readUInt32LE(i) / 0xffffffff - 0.5);
    }
  }
  const norm = Math.sqrt(raw.reduce((s, v) => s + v * v, 0)) || 1;
  return raw.map((v) => v / norm);
}

/** What OpenAI sends for encoding_format=base64: the little-endian float32 array. */
export function float32Base64(vector: readonly number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

function mp4Box(type: string, payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32BE(8 + payload.length);
  return Buffer.concat([size, Buffer.from(type, 'ascii'), payload]);
}

/**
 * What a completed video downloads as: an ISO-BMFF file opening with an `ftyp` box (isom, mp41), then
 * `free` and a small `mdat` of deterministic bytes. Players will not decode it; sniffers see an MP4.
 */
export const MOCK_MP4: Buffer = Buffer.concat([
  mp4Box('ftyp', Buffer.concat([Buffer.from('isom', 'ascii'), Buffer.from([0, 0, 2, 0]), Buffer.from('isomiso2avc1mp41', 'ascii')])),
  mp4Box('free', Buffer.alloc(0)),
  mp4Box('mdat', Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 37) & 0xff))),
]);
