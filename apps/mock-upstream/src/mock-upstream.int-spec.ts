import Anthropic, { APIError as AnthropicAPIError } from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI, { APIError as OpenAIAPIError, toFile } from 'openai';
import { crc32 } from 'node:zlib';
import { mockUpstreamConfigSchema, parseConfig } from '@gateway/config';
import { mockTokens } from './directives';
import { startMockUpstream } from './server';
import { wav } from '../../../test/support/wav';

// The mock driven by the official SDKs, unchanged: if they accept its answers, the gateway's
// translations are tested against the providers' real shapes.

/** prompt tokens for texts (one per message, system included): sum(ceil(len/4) + 4) + 3 */
const promptTokens = (...texts: string[]) => texts.reduce((n, t) => n + mockTokens(t) + 4, 3);

/** Checks the PNG signature, a 1x1 IHDR and every chunk's CRC. */
function expectValidPng(buf: Buffer): void {
  expect(buf.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(buf.toString('ascii', 12, 16)).toBe('IHDR');
  expect([buf.readUInt32BE(16), buf.readUInt32BE(20)]).toEqual([1, 1]);
  const types: string[] = [];
  for (let off = 8; off < buf.length; ) {
    const len = buf.readUInt32BE(off);
    types.push(buf.toString('ascii', off + 4, off + 8));
    expect(buf.readUInt32BE(off + 8 + len)).toBe(crc32(buf.subarray(off + 4, off + 8 + len)) >>> 0);
    off += 12 + len;
  }
  expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
}

describe('mock upstream, driven by the official SDKs', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let url: string;
  let openai: OpenAI;
  let anthropic: Anthropic;
  let gemini: GoogleGenAI;

  beforeAll(async () => {
    mock = await startMockUpstream(parseConfig(mockUpstreamConfigSchema, { MOCK_PORT: '0' }));
    url = mock.url;
    openai = new OpenAI({ apiKey: 'sk-test', baseURL: `${url}/v1`, maxRetries: 0 });
    anthropic = new Anthropic({ apiKey: 'x', baseURL: url, maxRetries: 0 });
    // Under Jest's vm context the SDK cannot reach Node's undici global dispatcher (it fails with "Undici
    // globalDispatcher is not available"); handing it fetch explicitly skips that path.
    gemini = new GoogleGenAI({ apiKey: 'x', httpOptions: { baseUrl: url, fetch } });
  });

  afterAll(async () => {
    await mock?.app.close();
  });

  it('listens on the free port it was given and reports it', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(url).not.toMatch(/:0$/);
  });

  describe('OpenAI', () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
      { type: 'function', function: { name: 'other_tool', parameters: { type: 'object' } } },
    ];

    it('answers a chat completion with the deterministic reply and its usage', async () => {
      const r = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: [{ type: 'text', text: 'Hello there' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        ],
      });
      expect(r.choices[0].message.content).toBe('This is a deterministic mock reply to: Hello there');
      expect(r.choices[0].finish_reason).toBe('stop');
      // system 14 chars -> 4+4, user 11 chars -> 3+4, plus 3; nine words out
      expect(r.usage).toMatchObject({ prompt_tokens: 18, completion_tokens: 9, total_tokens: 27 });
    });

    it('streams the same reply with usage last, and truncates at max_tokens', async () => {
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }], stream: true, stream_options: { include_usage: true } });
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      let finish: string | null = null;
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
        if (c.usage) usage = c.usage;
      }
      expect(text).toBe('This is a deterministic mock reply to: Hello there');
      expect(finish).toBe('stop');
      expect(usage).toMatchObject({ prompt_tokens: promptTokens('Hello there'), completion_tokens: 9 });

      const cut = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there [[mock:cached=5]]' }], max_completion_tokens: 3 });
      expect(cut.choices[0].message.content).toBe('This is a ');
      expect(cut.choices[0].finish_reason).toBe('length');
      expect(cut.usage?.completion_tokens).toBe(3);
      expect(cut.usage?.prompt_tokens_details?.cached_tokens).toBe(5);
    });

    it('calls the first declared tool, then answers the tool result', async () => {
      const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]' };
      const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [ask], tools });
      const call = r.choices[0].message.tool_calls?.[0];
      expect(r.choices[0].finish_reason).toBe('tool_calls');
      expect(r.choices[0].message.content).toBeNull();
      expect(call?.id).toMatch(/^call_[0-9a-f]+$/);
      expect(call?.type === 'function' && call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
      expect(r.usage?.completion_tokens).toBe(mockTokens('get_weather{"city":"Paris"}'));

      const follow = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        tools,
        messages: [ask, r.choices[0].message, { role: 'tool', tool_call_id: call?.id ?? '', content: 'Sunny, 21C' }],
      });
      expect(follow.choices[0].message.content).toBe('Tool result received: Sunny, 21C');
      expect(follow.choices[0].finish_reason).toBe('stop');
      expect(follow.usage?.prompt_tokens).toBe(promptTokens(ask.content as string, '', 'Sunny, 21C'));
    });

    it('streams tool-call arguments in 8-character pieces that the SDK reassembles', async () => {
      const pieces: string[] = [];
      const stream = openai.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'look up the population of Lyon please' }], tools });
      stream.on('chunk', (c) => {
        const args = c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments;
        if (args) pieces.push(args);
      });
      const done = await stream.finalChatCompletion();
      const call = done.choices[0].message.tool_calls?.[0];
      const expected = JSON.stringify({ query: 'look up the population of Lyon please' });
      expect(call?.type === 'function' && call.function.arguments).toBe(expected);
      expect(call?.type === 'function' && call.function.name).toBe('get_weather');
      expect(done.choices[0].finish_reason).toBe('tool_calls');
      expect(pieces.join('')).toBe(expected);
      expect(pieces.length).toBe(Math.ceil(expected.length / 8));
      expect(pieces.slice(0, -1).every((p) => p.length === 8)).toBe(true);
    });

    it('raises the typed error for a forced status, and 401 without a key', async () => {
      const err = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x [[mock:status=429]]' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect((err as OpenAIAPIError).status).toBe(429);

      const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(r.status).toBe(401);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');

      const missing = await fetch(`${url}/v1/nothing`, { headers: { authorization: 'Bearer k' } });
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { message: string } }).error.message).toBe('Invalid URL (GET /v1/nothing)');
    });

    it('drops a stream after fail_after pieces', async () => {
      const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long answer [[mock:fail_after=2]]' }], stream: true });
      let text = '';
      const err = await (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e);
      // undici's error for a socket closed mid-body (a TypeError of Node's realm, not Jest's)
      expect(err).toMatchObject({ message: 'terminated' });
      expect(text).toBe('This is ');
    });

    it('embeds deterministically, as float and as base64 the SDK decodes', async () => {
      const float = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'another text'], encoding_format: 'float' });
      expect(float.data.map((d) => d.index)).toEqual([0, 1]);
      expect(float.data[0].embedding).toHaveLength(8);
      const norm = Math.hypot(...float.data[0].embedding);
      expect(norm).toBeCloseTo(1, 6);
      expect(float.data[0].embedding).not.toEqual(float.data[1].embedding);
      expect(float.usage).toEqual({ prompt_tokens: mockTokens('hello world') + mockTokens('another text'), total_tokens: 6 });

      // without encoding_format the SDK asks for base64 and decodes it itself
      const b64 = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['hello world', 'another text'] });
      const sent = mock.state.requests.at(-1)?.body as { encoding_format?: string };
      expect(sent.encoding_format).toBe('base64');
      b64.data.forEach((d, i) => d.embedding.forEach((v, j) => expect(v).toBeCloseTo(float.data[i].embedding[j], 6)));

      const wide = await openai.embeddings.create({ model: 'text-embedding-3-small', input: [[1, 2, 3]], dimensions: 16, encoding_format: 'float' });
      expect(wide.data[0].embedding).toHaveLength(16);
      expect(wide.usage.prompt_tokens).toBe(mockTokens('1 2 3'));
    });

    it('generates images as URLs it serves, or as base64 PNG', async () => {
      const r = await openai.images.generate({ model: 'dall-e-3', prompt: 'a red fox', n: 2 });
      expect(r.data).toHaveLength(2);
      expect(r.data?.[0].url).toMatch(new RegExp(`^${url}/_mock/files/[\\w]+\\.png$`));
      expect(r.data?.[0].revised_prompt).toBe('a red fox');
      const file = await fetch(r.data?.[0].url ?? '');
      expect(file.headers.get('content-type')).toBe('image/png');
      expectValidPng(Buffer.from(await file.arrayBuffer()));

      const b = await openai.images.generate({ model: 'dall-e-3', prompt: 'a red fox', response_format: 'b64_json' });
      expectValidPng(Buffer.from(b.data?.[0].b64_json ?? '', 'base64'));
    });

    it('edits images sent as multipart, one or several', async () => {
      const png = Buffer.from((await openai.images.generate({ model: 'dall-e-2', prompt: 'p', response_format: 'b64_json' })).data?.[0].b64_json ?? '', 'base64');
      const one = await openai.images.edit({ model: 'dall-e-2', image: await toFile(png, 'in.png', { type: 'image/png' }), prompt: 'add a hat' });
      expect(one.data?.[0].url).toContain('/_mock/files/');
      const recorded = mock.state.requests.at(-1)?.body as { image?: { filename: string; bytes: number }; prompt?: string };
      expect(recorded.image).toEqual({ filename: 'in.png', type: 'image/png', bytes: png.length });
      expect(recorded.prompt).toBe('add a hat');

      const two = await openai.images.edit({
        model: 'gpt-image-1',
        image: [await toFile(png, 'a.png', { type: 'image/png' }), await toFile(png, 'b.png', { type: 'image/png' })],
        prompt: 'merge',
        n: 3,
        response_format: 'b64_json',
      });
      expect(two.data).toHaveLength(3);
      const sent = mock.state.requests.at(-1)?.body as { 'image[]'?: Array<{ filename: string }> };
      expect(sent['image[]']?.map((f) => f.filename)).toEqual(['a.png', 'b.png']);
      expectValidPng(Buffer.from(two.data?.[0].b64_json ?? '', 'base64'));

      const form = new FormData();
      form.append('image', new Blob([png], { type: 'image/png' }), 'in.png');
      const bad = await fetch(`${url}/v1/images/edits`, { method: 'POST', headers: { authorization: 'Bearer k' }, body: form });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { param: string } }).error.param).toBe('prompt');
    });

    it('transcribes with the WAV duration, in json, text and verbose_json', async () => {
      const file = await toFile(wav(2.5), 'clip.wav', { type: 'audio/wav' });
      const json = await openai.audio.transcriptions.create({ model: 'whisper-1', file });
      expect(json.text).toBe('Mock transcription of clip.wav (3 s)');
      expect(json.usage).toEqual({ type: 'duration', seconds: 3 });

      const text = await openai.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(wav(1), 'one.wav'), response_format: 'text' });
      expect(text).toBe('Mock transcription of one.wav (1 s)');

      const verbose = await openai.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(wav(2.5), 'clip.wav'), response_format: 'verbose_json' });
      expect(verbose.duration).toBe(2.5);
      expect(verbose.language).toBe('english');

      // not a WAV: bytes / 16000
      const raw = await openai.audio.transcriptions.create({ model: 'whisper-1', file: await toFile(Buffer.alloc(40000), 'x.mp3') });
      expect(raw.usage).toEqual({ type: 'duration', seconds: 3 });
    });

    it('speaks valid MP3 frames, WAV and PCM of the right length', async () => {
      const input = 'a'.repeat(40); // 3 s
      const mp3 = Buffer.from(await (await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input })).arrayBuffer());
      const frames = Math.ceil(3000 / 24);
      expect(mp3.length).toBe(frames * 96);
      for (let f = 0; f < frames; f++) expect(mp3.subarray(f * 96, f * 96 + 4)).toEqual(Buffer.from([0xff, 0xf3, 0x44, 0xc4]));
      // the header decodes to MPEG-2 Layer III, 32 kbps, 24 kHz, mono
      const h = mp3.readUInt32BE(0);
      expect([(h >>> 19) & 3, (h >>> 17) & 3, (h >>> 12) & 15, (h >>> 10) & 3, (h >>> 6) & 3]).toEqual([2, 1, 4, 1, 3]);

      const wavRes = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input, response_format: 'wav' });
      expect(wavRes.headers.get('content-type')).toBe('audio/wav');
      const w = Buffer.from(await wavRes.arrayBuffer());
      expect(w.length).toBe(44 + 3 * 24000 * 2);
      expect([w.toString('ascii', 0, 4), w.toString('ascii', 8, 16), w.toString('ascii', 36, 40)]).toEqual(['RIFF', 'WAVEfmt ', 'data']);
      expect([w.readUInt16LE(20), w.readUInt16LE(22), w.readUInt32LE(24), w.readUInt32LE(28), w.readUInt16LE(34), w.readUInt32LE(40)]).toEqual([1, 1, 24000, 48000, 16, 144000]);

      const pcm = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi', response_format: 'pcm' });
      expect((await pcm.arrayBuffer()).byteLength).toBe(24000 * 2);

      const err = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'hi', response_format: 'opus' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    });
  });

  describe('Anthropic', () => {
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];

    it('answers a message with usage that excludes cache reads from input_tokens', async () => {
      const m = await anthropic.messages.create({ model: 'claude-mock', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there [[mock:cached=4]]' }] });
      const prompt = promptTokens('Be brief.', 'Hello there [[mock:cached=4]]');
      expect(m.id).toMatch(/^msg_[0-9a-f]+$/);
      expect(m.content).toEqual([{ type: 'text', text: 'This is a deterministic mock reply to: Hello there' }]);
      expect(m.stop_reason).toBe('end_turn');
      expect(m.usage).toMatchObject({ input_tokens: prompt - 4, output_tokens: 9, cache_read_input_tokens: 4, cache_creation_input_tokens: 0 });

      const count = await anthropic.messages.countTokens({ model: 'claude-mock', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there [[mock:cached=4]]' }] });
      expect(count.input_tokens).toBe(prompt);
    });

    it('streams the real event sequence, which the SDK assembles', async () => {
      const stream = anthropic.messages.stream({ model: 'claude-mock', max_tokens: 5, system: [{ type: 'text', text: 'sys' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }] });
      const events: string[] = [];
      stream.on('streamEvent', (e) => events.push(e.type));
      const m = await stream.finalMessage();
      expect(m.content).toEqual([{ type: 'text', text: 'This is a deterministic mock ' }]);
      expect(m.stop_reason).toBe('max_tokens');
      expect(m.usage).toMatchObject({ input_tokens: promptTokens('sys', 'Hello there'), output_tokens: 5 });
      expect(events).toEqual(['message_start', 'content_block_start', ...Array(5).fill('content_block_delta'), 'content_block_stop', 'message_delta', 'message_stop']);

      const raw = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': 'k', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', max_tokens: 2, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const names = [...(await raw.text()).matchAll(/^event: (\w+)$/gm)].map((x) => x[1]);
      expect(names).toEqual(['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    });

    it('uses a tool, streamed and not, then answers the tool result', async () => {
      const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]' };
      const m = await anthropic.messages.create({ model: 'claude-mock', max_tokens: 100, tools, messages: [ask] });
      expect(m.stop_reason).toBe('tool_use');
      expect(m.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: { city: 'Paris' } }]);
      expect(m.usage.output_tokens).toBe(mockTokens('get_weather{"city":"Paris"}'));

      const streamed = await anthropic.messages.stream({ model: 'claude-mock', max_tokens: 100, tools, messages: [ask] }).finalMessage();
      expect(streamed.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
      expect(streamed.stop_reason).toBe('tool_use');

      const toolUse = m.content[0] as Anthropic.ToolUseBlock;
      const follow = await anthropic.messages.create({
        model: 'claude-mock',
        max_tokens: 100,
        tools,
        messages: [ask, { role: 'assistant', content: m.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: [{ type: 'text', text: 'Sunny, 21C' }] }] }],
      });
      expect(follow.content).toEqual([{ type: 'text', text: 'Tool result received: Sunny, 21C' }]);
      expect(follow.stop_reason).toBe('end_turn');
    });

    it('answers errors in its own shape, raising the typed errors', async () => {
      const limited = await anthropic.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x [[mock:status=429]]' }] }).catch((e: unknown) => e);
      expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
      const overloaded = await anthropic.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x [[mock:status=529]]' }] }).catch((e: unknown) => e);
      expect(overloaded).toBeInstanceOf(AnthropicAPIError);
      expect((overloaded as AnthropicAPIError).status).toBe(529);
      expect((overloaded as AnthropicAPIError).error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'mock forced status 529' } });

      const noMax = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': 'k', 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }) });
      expect(noMax.status).toBe(400);
      expect(await noMax.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Field required' } });

      const noKey = await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(noKey.status).toBe(401);
      expect(((await noKey.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    });

    it('drops a stream after fail_after pieces', async () => {
      const stream = anthropic.messages.stream({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'x [[mock:fail_after=3]]' }] });
      let text = '';
      stream.on('text', (t) => (text += t));
      await expect(stream.finalMessage()).rejects.toThrow();
      expect(text).toBe('This is a ');
    });
  });

  describe('Gemini', () => {
    const tools = [{ functionDeclarations: [{ name: 'get_weather', description: 'weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } }] }];

    it('generates content with usage counting the system instruction and cached tokens', async () => {
      const r = await gemini.models.generateContent({ model: 'gemini-2.0-flash', contents: 'Hello there [[mock:cached=6]]', config: { systemInstruction: 'Be brief.' } });
      const prompt = promptTokens('Be brief.', 'Hello there [[mock:cached=6]]');
      expect(r.text).toBe('This is a deterministic mock reply to: Hello there');
      expect(r.candidates?.[0].finishReason).toBe('STOP');
      expect(r.modelVersion).toBe('gemini-2.0-flash');
      expect(r.responseId).toMatch(/^[0-9a-f]+$/);
      expect(r.usageMetadata).toEqual({ promptTokenCount: prompt, candidatesTokenCount: 9, totalTokenCount: prompt + 9, cachedContentTokenCount: 6 });

      const plain = await gemini.models.generateContent({ model: 'gemini-2.0-flash', contents: 'Hello there', config: { maxOutputTokens: 2 } });
      expect(plain.text).toBe('This is ');
      expect(plain.candidates?.[0].finishReason).toBe('MAX_TOKENS');
      expect(plain.usageMetadata?.cachedContentTokenCount).toBeUndefined();

      const count = await gemini.models.countTokens({ model: 'gemini-2.0-flash', contents: 'Hello there' });
      expect(count.totalTokens).toBe(promptTokens('Hello there'));
    });

    it('streams one chunk per piece over SSE, the last with finishReason and full usage', async () => {
      const chunks = [];
      for await (const c of await gemini.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'Hello there' })) chunks.push(c);
      expect(chunks).toHaveLength(9);
      expect(chunks.map((c) => c.text).join('')).toBe('This is a deterministic mock reply to: Hello there');
      expect(chunks.slice(0, -1).every((c) => c.candidates?.[0].finishReason === undefined)).toBe(true);
      const last = chunks[8];
      expect(last.candidates?.[0].finishReason).toBe('STOP');
      expect(last.usageMetadata).toEqual({ promptTokenCount: promptTokens('Hello there'), candidatesTokenCount: 9, totalTokenCount: promptTokens('Hello there') + 9 });
    });

    it('streams a JSON array without alt=sse', async () => {
      const r = await fetch(`${url}/v1beta/models/gemini-2.0-flash:streamGenerateContent?key=k`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hello there' }] }], generationConfig: { maxOutputTokens: 3 } }),
      });
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      const chunks = (await r.json()) as Array<{ candidates: Array<{ content: { parts: Array<{ text: string }> }; finishReason?: string }>; usageMetadata: { candidatesTokenCount?: number } }>;
      expect(chunks.map((c) => c.candidates[0].content.parts[0].text)).toEqual(['This ', 'is ', 'a ']);
      expect(chunks[2].candidates[0].finishReason).toBe('MAX_TOKENS');
      expect(chunks[2].usageMetadata.candidatesTokenCount).toBe(3);
    });

    it('calls a function, streamed whole and not, then answers the function response', async () => {
      const ask = { role: 'user', parts: [{ text: 'Weather in Paris? [[mock:tool_args={"city":"Paris"}]]' }] };
      const r = await gemini.models.generateContent({ model: 'gemini-2.0-flash', contents: [ask], config: { tools } });
      expect(r.functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Paris' } }]);
      expect(r.usageMetadata?.candidatesTokenCount).toBe(mockTokens('get_weather{"city":"Paris"}'));

      const chunks = [];
      for await (const c of await gemini.models.generateContentStream({ model: 'gemini-2.0-flash', contents: [ask], config: { tools } })) chunks.push(c);
      expect(chunks).toHaveLength(1);
      expect(chunks[0].functionCalls).toEqual([{ name: 'get_weather', args: { city: 'Paris' } }]);
      expect(chunks[0].candidates?.[0].finishReason).toBe('STOP');

      const follow = await gemini.models.generateContent({
        model: 'gemini-2.0-flash',
        config: { tools },
        contents: [ask, { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] }, { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp: 21 } } }] }],
      });
      expect(follow.text).toBe('Tool result received: {"temp":21}');
      expect(follow.usageMetadata?.promptTokenCount).toBe(promptTokens(ask.parts[0].text, '', '{"temp":21}'));
    });

    it('answers errors as google.rpc.Status, raising ApiError', async () => {
      const err = await gemini.models.generateContent({ model: 'gemini-2.0-flash', contents: 'x [[mock:status=503]]' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(503);
      expect(JSON.parse((err as ApiError).message)).toEqual({ error: { code: 503, message: 'mock forced status 503', status: 'UNAVAILABLE' } });

      const noKey = await fetch(`${url}/v1beta/models/gemini-2.0-flash:generateContent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(noKey.status).toBe(401);
      expect(((await noKey.json()) as { error: { status: string } }).error.status).toBe('UNAUTHENTICATED');
    });

    it('drops a stream after fail_after pieces', async () => {
      const seen: string[] = [];
      const err = await (async () => {
        for await (const c of await gemini.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'x [[mock:fail_after=2]]' })) seen.push(c.text ?? '');
      })().catch((e: unknown) => e);
      expect(err).toMatchObject({ message: 'terminated' });
      expect(seen).toEqual(['This ', 'is ']);
    });

    it('lists its models', async () => {
      const r = await fetch(`${url}/v1beta/models`, { headers: { 'x-goog-api-key': 'k' } });
      const body = (await r.json()) as { models: Array<{ name: string; supportedGenerationMethods: string[] }> };
      expect(body.models[0]).toMatchObject({ name: 'models/gemini-2.0-flash', supportedGenerationMethods: ['generateContent', 'streamGenerateContent', 'countTokens'] });
    });
  });

  it('records each request under its provider', () => {
    const providers = new Set(mock.state.requests.map((r) => r.provider));
    expect([...providers].sort()).toEqual(['anthropic', 'gemini', 'openai']);
    expect(mock.state.requests.some((r) => r.provider === 'gemini' && r.path.includes(':streamGenerateContent?alt=sse'))).toBe(true);
  });
});
