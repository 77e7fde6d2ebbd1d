// Audio durations from the bytes themselves, for per-second pricing: WAV from its header, MP3 by walking
// its frames (CBR and VBR alike), raw PCM at OpenAI's 24 kHz 16-bit mono.

export function wavDurationMs(buf: Uint8Array): number | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 12 || b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') return null;
  let byteRate = 0;
  let offset = 12;
  while (offset + 8 <= b.length) {
    const id = b.toString('ascii', offset, offset + 4);
    let size = b.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 16 <= b.length) byteRate = b.readUInt32LE(offset + 8 + 8);
    if (id === 'data') {
      // streamed WAVs write 0 or 0xFFFFFFFF as the size: the data runs to the end of the file
      if (size === 0 || size === 0xffffffff || offset + 8 + size > b.length) size = b.length - offset - 8;
      return byteRate > 0 ? (size * 1000) / byteRate : null;
    }
    offset += 8 + size + (size % 2);
  }
  return null;
}

const BITRATES: Record<string, number[]> = {
  // kbps by index, for MPEG-1 Layer III and MPEG-2/2.5 Layer III
  '1': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

export function mp3DurationMs(buf: Uint8Array): number | null {
  let i = 0;
  if (buf.length >= 10 && buf[0] === 0x49 && buf[1] === 0x44 && buf[2] === 0x33) {
    // ID3v2 tag: a 10-byte header, then a size of four 7-bit bytes
    i = 10 + ((buf[6] << 21) | (buf[7] << 14) | (buf[8] << 7) | buf[9]);
  }
  let ms = 0;
  let frames = 0;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff || (buf[i + 1] & 0xe0) !== 0xe0) {
      i++;
      continue;
    }
    const version = (buf[i + 1] >> 3) & 0x03; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    const layer = (buf[i + 1] >> 1) & 0x03; // 1: Layer III
    const bitrateIndex = buf[i + 2] >> 4;
    const rateIndex = (buf[i + 2] >> 2) & 0x03;
    const padding = (buf[i + 2] >> 1) & 0x01;
    if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) {
      i++;
      continue;
    }
    const kbps = BITRATES[version === 3 ? '1' : '2'][bitrateIndex];
    const rate = SAMPLE_RATES[version][rateIndex];
    const samples = version === 3 ? 1152 : 576;
    const length = Math.floor(((samples / 8) * kbps * 1000) / rate) + padding;
    if (length <= 4) break;
    ms += (samples * 1000) / rate;
    frames++;
    i += length;
  }
  return frames > 0 ? ms : null;
}

/** OpenAI's `pcm` speech format: 24 kHz, 16-bit, mono. */
export function pcmDurationMs(bytes: number): number {
  return (bytes / 48_000) * 1000;
}

export function audioDurationMs(buf: Uint8Array, format?: string): number | null {
  if (format === 'pcm') return pcmDurationMs(buf.byteLength);
  return wavDurationMs(buf) ?? mp3DurationMs(buf);
}
