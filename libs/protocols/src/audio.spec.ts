import { audioDurationMs, mp3DurationMs, pcmDurationMs, wavDurationMs } from './audio';
import { wav } from '../../../test/support/wav';


/** MPEG-1 Layer III, 128 kbps, 44.1 kHz frames: 417 or 418 bytes, 1152 samples each. */
function mp3(frames: number): Buffer {
  const out: Buffer[] = [];
  for (let f = 0; f < frames; f++) {
    const padding = f % 2;
    const frame = Buffer.alloc(417 + padding);
    frame[0] = 0xff;
    frame[1] = 0xfb; // MPEG-1, Layer III, no CRC
    frame[2] = 0x90 | (padding << 1); // 128 kbps, 44.1 kHz
    frame[3] = 0xc4;
    out.push(frame);
  }
  return Buffer.concat(out);
}

describe('audio durations', () => {
  it('reads a WAV header', () => {
    expect(wavDurationMs(wav(3))).toBe(3000);
    expect(audioDurationMs(wav(2, 24000))).toBe(2000);
  });

  it('walks MP3 frames, padded or not, after an ID3 tag', () => {
    const id3 = Buffer.from([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0, 10, ...Buffer.alloc(10)]);
    const ms = mp3DurationMs(Buffer.concat([id3, mp3(100)]))!;
    expect(ms).toBeCloseTo((100 * 1152 * 1000) / 44100, 6);
  });

  it('takes 24 kHz 16-bit mono for raw PCM, and gives up on noise', () => {
    expect(pcmDurationMs(48_000)).toBe(1000);
    expect(audioDurationMs(Buffer.from('not audio at all'))).toBeNull();
  });
});
