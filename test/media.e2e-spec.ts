import OpenAI, { toFile } from 'openai';
import { clearMock, mockRequests } from './support/fixtures';
import { adminCall, settledAccount, startGateway, type StartedGateway } from './support/gateway';
import { wav } from './support/wav';

// The OpenAI routes billed by something other than chat tokens: embeddings (input tokens), images (per
// image), transcription (per second of audio in) and speech (per second of audio out).
const P = { embedIn: 20_000, image: 40_000, transcribe: 100, speech: 250 };


const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('embeddings, images and audio through the gateway', () => {
  let g: StartedGateway;
  let openai: OpenAI;
  let accountId: string;

  beforeAll(async () => {
    g = await startGateway();
    const models = [
      { id: 'embed-x', kind: 'embedding', pricing: { input_per_mtok_micros: P.embedIn }, upstream: 'text-embedding-3-small' },
      { id: 'image-x', kind: 'image', pricing: { per_image_micros: P.image }, upstream: 'gpt-image-1' },
      { id: 'whisper-x', kind: 'transcription', pricing: { per_second_micros: P.transcribe }, upstream: 'whisper-1' },
      { id: 'tts-x', kind: 'speech', pricing: { per_second_micros: P.speech }, upstream: 'tts-1' },
    ];
    for (const m of models) expect((await adminCall(g, 'POST', '/admin/models', { id: m.id, kind: m.kind, pricing: m.pricing })).status).toBe(201);
    const channel = await adminCall(g, 'POST', '/admin/channels', {
      name: 'mock-openai-media',
      provider: 'openai',
      base_url: `${g.mockBase}/v1`,
      api_key: 'upstream',
      models: Object.fromEntries(models.map((m) => [m.id, m.upstream])),
    });
    expect(channel.status).toBe(201);
    const acct = await adminCall<{ id: string }>(g, 'POST', '/admin/accounts', { name: 'media', credit_micros: 10_000_000 });
    accountId = acct.json.id;
    const key = (await adminCall<{ key: string }>(g, 'POST', `/admin/accounts/${accountId}/keys`, { name: 'media' })).json.key;
    openai = new OpenAI({ apiKey: key, baseURL: `${g.base}/v1`, maxRetries: 0 });
  }, 120_000);

  afterAll(() => g?.stop(), 30_000);

  async function charged<T>(fn: () => Promise<T>): Promise<{ value: T; cost: number }> {
    const before = (await settledAccount(g, accountId)).balance_micros;
    const value = await fn();
    const after = await settledAccount(g, accountId);
    expect(after.held_micros).toBe(0);
    return { value, cost: before - after.balance_micros };
  }

  it('embeddings, float and base64 (the SDK asks for base64 by default), charged per input token', async () => {
    await clearMock(g);
    const b64 = await charged(() => openai.embeddings.create({ model: 'embed-x', input: ['first text', 'second text here'] }));
    expect(b64.value.data).toHaveLength(2);
    expect(b64.value.data[0].embedding).toHaveLength(8);
    expect(b64.cost).toBe(Math.ceil((b64.value.usage.prompt_tokens * P.embedIn) / 1e6));
    const float = await openai.embeddings.create({ model: 'embed-x', input: 'first text', encoding_format: 'float' });
    expect(float.data[0].embedding[0]).toBeCloseTo(b64.value.data[0].embedding[0], 5);
    const recs = await mockRequests(g);
    expect(recs.map((r) => [r.path, r.body.model, r.body.encoding_format])).toEqual([
      ['/v1/embeddings', 'text-embedding-3-small', 'base64'],
      ['/v1/embeddings', 'text-embedding-3-small', 'float'],
    ]);
  });

  it('image generation charges per image returned', async () => {
    const { value, cost } = await charged(() => openai.images.generate({ model: 'image-x', prompt: 'a lighthouse', n: 2 }));
    expect(value.data).toHaveLength(2);
    expect(cost).toBe(2 * P.image);
  });

  it('image edit (multipart) reaches the upstream as multipart with its own model name, charged per image', async () => {
    await clearMock(g);
    const { value, cost } = await charged(async () => openai.images.edit({ model: 'image-x', image: await toFile(PNG, 'in.png', { type: 'image/png' }), prompt: 'make it blue' }));
    expect(value.data).toHaveLength(1);
    expect(cost).toBe(P.image);
    const [rec] = await mockRequests(g);
    expect(rec.path).toBe('/v1/images/edits');
    expect(JSON.stringify(rec.body)).toContain('gpt-image-1');
  });

  it('transcription charges per second of audio in', async () => {
    const { value, cost } = await charged(async () => openai.audio.transcriptions.create({ model: 'whisper-x', file: await toFile(wav(3), 'talk.wav', { type: 'audio/wav' }) }));
    expect(value.text).toContain('talk.wav');
    expect(cost).toBe(3 * P.transcribe);
  });

  it('speech comes back as binary audio, charged per second produced (mp3 and wav)', async () => {
    const mp3 = await charged(async () => Buffer.from(await (await openai.audio.speech.create({ model: 'tts-x', voice: 'alloy', input: 'Hello there, this is a test' })).arrayBuffer()));
    expect(mp3.value.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xf3]));
    const ms = (mp3.value.length / 96) * 24; // the mock's 96-byte, 24 ms MPEG-2 frames
    expect(mp3.cost).toBe(Math.ceil((P.speech * ms) / 1000));
    const wavOut = await charged(async () => Buffer.from(await (await openai.audio.speech.create({ model: 'tts-x', voice: 'alloy', input: 'Hello there, this is a test', response_format: 'wav' })).arrayBuffer()));
    expect(wavOut.value.toString('ascii', 0, 4)).toBe('RIFF');
    const seconds = wavOut.value.readUInt32LE(40) / wavOut.value.readUInt32LE(28);
    expect(wavOut.cost).toBe(Math.ceil(P.speech * seconds));
  });

  it('a model of the wrong kind or a missing field is a 400 naming the field', async () => {
    const wrong = await openai.images.generate({ model: 'embed-x', prompt: 'x' }).catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
    expect((wrong as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('model');
    const missing = await openai.embeddings.create({ model: 'embed-x' } as never).catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>);
    expect((missing as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input');
  });
});
