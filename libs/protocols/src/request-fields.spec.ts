// Issue 10: request fields that were dropped without a word or refused though the target can express them.
// Each is translated wherever the target has a counterpart (both directions where both styles have one), a
// 400 naming the field only where it truly has none, and a documented drop only for sampling hints and
// settings with no meaning there (top_k and safetySettings to OpenAI, seed to Anthropic). Bodies that only
// a native upstream can take (n > 1, candidateCount > 1, allowed_tools) are untranslatable, not invalid.
import { anthropicClient, anthropicUpstream } from './anthropic/codec';
import { AnthropicStreamDecoder } from './anthropic/stream';
import { JSON_TOOL, takesOutputFormat } from './anthropic/request';
import { geminiClient, geminiUpstream } from './gemini/codec';
import { camelGemini } from './gemini/request';
import { GeminiStreamDecoder } from './gemini/stream';
import { IRAccumulator, InvalidRequestError, UnsupportedFeatureError, type IRMessage, type IRPart, type IRRequest, type IRResponse } from './ir';
import { openaiClient, openaiUpstream } from './openai/codec';
import { OpenAIChatStreamDecoder } from './openai/stream';
import { responsesClient } from './responses/codec';
import { SseParser } from './sse/sse-parser';

type Body = Record<string, any>;

const chat = (extra: Body, messages: unknown[] = [{ role: 'user', content: 'hi' }]) => openaiClient.decodeRequest({ model: 'm', messages, ...extra }, {});
const claude = (extra: Body, messages: unknown[] = [{ role: 'user', content: 'hi' }]) => anthropicClient.decodeRequest({ model: 'm', max_tokens: 1000, messages, ...extra }, {});
const gemini = (body: Body) => geminiClient(true).decodeRequest({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], ...body }, { model: 'm' });

const toChat = (ir: IRRequest): Body => openaiUpstream.encodeRequest(ir, 'gpt-4o');
const toClaude = (ir: IRRequest, model = 'claude-sonnet-4-5'): Body => anthropicUpstream.encodeRequest({ max_tokens: 4096, ...ir }, model);
const toGemini = (ir: IRRequest, model = 'gemini-2.5-flash'): Body => geminiUpstream.encodeRequest(ir, model);

/** The error a call throws, for its class and param. */
function thrown(fn: () => unknown): { error: unknown; param?: string } {
  try {
    fn();
  } catch (error) {
    return { error, param: (error as { param?: string }).param };
  }
  throw new Error('expected a throw');
}

const PNG = 'iVBORw0KGgo=';
const PDF = 'JVBERi0xLjQK';
const tools = [{ type: 'function', function: { name: 'screenshot', parameters: { type: 'object', properties: {} } } }];
const weatherTool = { name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } };

/** an OpenAI tool loop whose tool answered with text and an image */
const chatToolImage = [
  { role: 'user', content: 'What is on screen?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
  { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'screen captured' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] },
];

describe('images and documents inside tool results', () => {
  const expectedResult: IRPart = { type: 'tool_result', tool_call_id: 'call_1', content: 'screen captured', media: [{ type: 'image', mime_type: 'image/png', data: PNG }] };

  it('OpenAI tool message parts: decoded with their image', () => {
    expect(chat({ tools }, chatToolImage).messages[2].parts).toEqual([expectedResult]);
  });

  it('to Anthropic: the tool_result holds the image block beside its text', () => {
    const body = toClaude(chat({ tools }, chatToolImage));
    expect(body.messages[2].content).toEqual([
      { type: 'tool_result', tool_use_id: 'call_1', content: [{ type: 'text', text: 'screen captured' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
    ]);
  });

  it('to OpenAI chat: the tool message keeps the text and a user message after the tool messages carries the image, under a line naming the call', () => {
    const twoResults = [
      ...chatToolImage.slice(0, 1),
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }, { id: 'call_2', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
      chatToolImage[2],
      { role: 'tool', tool_call_id: 'call_2', content: 'nothing' },
      { role: 'user', content: 'Describe both.' },
    ];
    const body = toChat(chat({ tools }, twoResults));
    expect(body.messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'call_1', content: 'screen captured' },
      { role: 'tool', tool_call_id: 'call_2', content: 'nothing' },
      {
        role: 'user',
        content: [
          { type: 'text', text: '[attachments returned by tool call call_1]' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          { type: 'text', text: 'Describe both.' },
        ],
      },
    ]);
  });

  it('to Gemini 2.5: the image follows its functionResponse; to Gemini 3: inside it (multimodal function responses)', () => {
    const ir = chat({ tools }, chatToolImage);
    expect(toGemini(ir).contents[2].parts).toEqual([{ functionResponse: { name: 'screenshot', response: { result: 'screen captured' } } }, { inlineData: { mimeType: 'image/png', data: PNG } }]);
    expect(toGemini(ir, 'gemini-3-pro-preview').contents[2].parts).toEqual([
      { functionResponse: { name: 'screenshot', response: { result: 'screen captured' }, parts: [{ inlineData: { mimeType: 'image/png', data: PNG } }] } },
    ]);
  });

  it('Anthropic tool_result content with image and document blocks: decoded, and carried to every upstream', () => {
    const ir = claude({ tools: [weatherTool] }, [
      { role: 'user', content: 'Read it' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_1',
            content: [
              { type: 'text', text: 'here' },
              { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' },
            ],
          },
        ],
      },
    ]);
    expect((ir.messages[2].parts[0] as Extract<IRPart, { type: 'tool_result' }>).media).toEqual([
      { type: 'image', url: 'https://example.com/a.png' },
      { type: 'document', mime_type: 'application/pdf', data: PDF, title: 'report.pdf' },
    ]);
    expect(toClaude(ir).messages[2].content[0].content).toEqual([
      { type: 'text', text: 'here' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' },
    ]);
    expect(toChat(ir).messages.at(-1).content).toEqual([
      { type: 'text', text: '[attachments returned by tool call toolu_1]' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
    ]);
    expect(toGemini(ir).contents[2].parts.slice(1)).toEqual([{ fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/a.png' } }, { inlineData: { mimeType: 'application/pdf', data: PDF } }]);
  });

  it('Gemini functionResponse with inline data parts: decoded, and carried to Anthropic and back to Gemini 3', () => {
    const body = {
      contents: [
        { role: 'user', parts: [{ text: 'Look' }] },
        { role: 'model', parts: [{ functionCall: { id: 'fc1', name: 'read_file', args: { path: 'a.png' } } }] },
        { role: 'user', parts: [{ functionResponse: { id: 'fc1', name: 'read_file', response: { output: 'binary' }, parts: [{ inlineData: { mimeType: 'image/png', data: PNG } }] } }] },
      ],
    };
    const ir = geminiClient(true).decodeRequest(body, { model: 'm' });
    expect(ir.messages[2].parts).toEqual([{ type: 'tool_result', tool_call_id: 'fc1', name: 'read_file', content: '{"output":"binary"}', media: [{ type: 'image', mime_type: 'image/png', data: PNG }] }]);
    expect(toClaude(ir).messages[2].content[0].content).toEqual([{ type: 'text', text: '{"output":"binary"}' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }]);
    expect(toGemini(ir, 'gemini-3-flash-preview').contents[2].parts[0].functionResponse.parts).toEqual([{ inlineData: { mimeType: 'image/png', data: PNG } }]);
  });
});

describe('documents (PDFs and plain text) between styles', () => {
  const geminiPdf = (part: Body) => gemini({ contents: [{ role: 'user', parts: [{ text: 'Summarise' }, part] }] });

  it('a PDF in Gemini inlineData is a document, never an image: Anthropic document block, OpenAI file part, Gemini inline data', () => {
    const ir = geminiPdf({ inlineData: { mimeType: 'application/pdf', data: PDF } });
    expect(ir.messages[0].parts[1]).toEqual({ type: 'document', mime_type: 'application/pdf', data: PDF });
    expect(toClaude(ir).messages[0].content[1]).toEqual({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } });
    expect(toChat(ir).messages[0].content[1]).toEqual({ type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${PDF}` } });
    expect(toGemini(ir).contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'application/pdf', data: PDF } });
  });

  it('a PDF in Gemini fileData: an Anthropic url document; OpenAI chat takes files inline only, so a 400 naming it', () => {
    const ir = geminiPdf({ fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/r.pdf' } });
    expect(toClaude(ir).messages[0].content[1]).toEqual({ type: 'document', source: { type: 'url', url: 'https://example.com/r.pdf' } });
    expect(toGemini(ir).contents[0].parts[1]).toEqual({ fileData: { mimeType: 'application/pdf', fileUri: 'https://example.com/r.pdf' } });
    const e = thrown(() => toChat(ir));
    expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.param).toBe('document');
  });

  it('an OpenAI file part is a document to Anthropic and Gemini; one uploaded to OpenAI (file_id) is refused for translation', () => {
    const ir = chat({}, [{ role: 'user', content: [{ type: 'text', text: 'Read' }, { type: 'file', file: { filename: 'q3.pdf', file_data: `data:application/pdf;base64,${PDF}` } }] }]);
    expect(ir.messages[0].parts[1]).toEqual({ type: 'document', mime_type: 'application/pdf', data: PDF, title: 'q3.pdf' });
    expect(toClaude(ir).messages[0].content[1]).toEqual({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'q3.pdf' });
    expect(toGemini(ir).contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'application/pdf', data: PDF } });
    const e = thrown(() => chat({}, [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }]));
    expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.param).toBe('messages[0].content[0].file.file_id');
  });

  it('Anthropic document blocks: base64, url and text sources to OpenAI and Gemini, and back', () => {
    const ir = claude({}, [
      {
        role: 'user',
        content: [
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain notes' }, title: 'notes' },
          { type: 'text', text: 'Compare' },
        ],
      },
    ]);
    const chatBody = toChat(ir);
    expect(chatBody.messages[0].content).toEqual([
      { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
      { type: 'text', text: 'notes\n\nplain notes' },
      { type: 'text', text: 'Compare' },
    ]);
    const geminiBody = toGemini(ir);
    expect(geminiBody.contents[0].parts.slice(0, 2)).toEqual([
      { inlineData: { mimeType: 'application/pdf', data: PDF } },
      { inlineData: { mimeType: 'text/plain', data: Buffer.from('plain notes').toString('base64') } },
    ]);
    // Gemini's text/plain inline data reads back as the text it is
    expect(geminiClient(true).decodeRequest(geminiBody, { model: 'm' }).messages[0].parts[1]).toEqual({ type: 'document', mime_type: 'text/plain', text: 'plain notes' });
    // and OpenAI's file part reads back as the same PDF
    expect(openaiClient.decodeRequest(chatBody, {}).messages[0].parts[0]).toEqual({ type: 'document', mime_type: 'application/pdf', data: PDF, title: 'document.pdf' });
  });

  it('what no other style reads is refused for translation only: audio or video data, Files API documents, citations', () => {
    expect(thrown(() => geminiPdf({ inlineData: { mimeType: 'audio/mp3', data: 'AAAA' } })).param).toBe('contents[0].parts[1].inlineData.mimeType');
    expect(thrown(() => geminiPdf({ fileData: { mimeType: 'video/mp4', fileUri: 'https://x/v.mp4' } })).error).toBeInstanceOf(UnsupportedFeatureError);
    expect(thrown(() => claude({}, [{ role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: 'file_1' } }] }])).param).toBe('messages[0].content[0].source.type');
    expect(thrown(() => claude({}, [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x/a.pdf' }, citations: { enabled: true } }] }])).param).toBe(
      'messages[0].content[0].citations',
    );
  });

  it('an image in Gemini inlineData or fileData is still an image', () => {
    expect(geminiPdf({ inlineData: { mimeType: 'image/jpeg', data: '/9j/' } }).messages[0].parts[1]).toEqual({ type: 'image', mime_type: 'image/jpeg', data: '/9j/' });
    expect(geminiPdf({ fileData: { mimeType: 'image/png', fileUri: 'https://x/a.png' } }).messages[0].parts[1]).toEqual({ type: 'image', url: 'https://x/a.png', mime_type: 'image/png' });
  });
});

describe('Gemini-only fields: safetySettings, cachedContent', () => {
  const safety = [{ category: 'HARM_CATEGORY_HARASSMENT', threshold: 'BLOCK_NONE' }];

  it('safetySettings reach a Gemini upstream; OpenAI and Anthropic have no per-category thresholds (their own safeguards apply)', () => {
    const ir = gemini({ safetySettings: safety });
    expect(toGemini(ir).safetySettings).toEqual(safety);
    expect(toChat(ir)).not.toHaveProperty('safetySettings');
    expect(toClaude(ir)).not.toHaveProperty('safetySettings');
  });

  it('cachedContent reaches a Gemini upstream and is a 400 naming it on any other', () => {
    const ir = gemini({ cachedContent: 'cachedContents/abc123' });
    expect(toGemini(ir).cachedContent).toBe('cachedContents/abc123');
    for (const encode of [toChat, toClaude]) {
      const e = thrown(() => encode(ir));
      expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
      expect(e.param).toBe('cachedContent');
    }
  });
});

describe('Gemini snake_case fields, as the REST API takes them', () => {
  const camel = {
    systemInstruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Read it' }, { inlineData: { mimeType: 'application/pdf', data: PDF } }, { fileData: { mimeType: 'image/png', fileUri: 'https://x/a.png' } }] },
      { role: 'model', parts: [{ functionCall: { name: 'read_file', args: { file_path: 'a.txt', max_lines: 3 } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'read_file', response: { file_text: 'x' } } }] },
    ],
    tools: [{ functionDeclarations: [{ name: 'read_file', parametersJsonSchema: { type: 'object', properties: { file_path: { type: 'string' }, max_lines: { type: 'integer' } } } }] }],
    toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['read_file'] } },
    safetySettings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_ONLY_HIGH' }],
    generationConfig: {
      maxOutputTokens: 300,
      topP: 0.9,
      topK: 40,
      stopSequences: ['END'],
      responseMimeType: 'application/json',
      responseSchema: { type: 'OBJECT', properties: { file_name: { type: 'STRING' } } },
      thinkingConfig: { thinkingBudget: 2048, includeThoughts: true },
    },
  };
  const snake = {
    system_instruction: { parts: [{ text: 'Be brief.' }] },
    contents: [
      { role: 'user', parts: [{ text: 'Read it' }, { inline_data: { mime_type: 'application/pdf', data: PDF } }, { file_data: { mime_type: 'image/png', file_uri: 'https://x/a.png' } }] },
      { role: 'model', parts: [{ function_call: { name: 'read_file', args: { file_path: 'a.txt', max_lines: 3 } } }] },
      { role: 'user', parts: [{ function_response: { name: 'read_file', response: { file_text: 'x' } } }] },
    ],
    tools: [{ function_declarations: [{ name: 'read_file', parameters_json_schema: { type: 'object', properties: { file_path: { type: 'string' }, max_lines: { type: 'integer' } } } }] }],
    tool_config: { function_calling_config: { mode: 'ANY', allowed_function_names: ['read_file'] } },
    safety_settings: [{ category: 'HARM_CATEGORY_HATE_SPEECH', threshold: 'BLOCK_ONLY_HIGH' }],
    generation_config: {
      max_output_tokens: 300,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END'],
      response_mime_type: 'application/json',
      response_schema: { type: 'OBJECT', properties: { file_name: { type: 'STRING' } } },
      thinking_config: { thinking_budget: 2048, include_thoughts: true },
    },
  };

  it('decodes to the same request as its camelCase spelling, arguments, responses and schemas keeping their own keys', () => {
    const a = geminiClient(true).decodeRequest(camel, { model: 'm' });
    const b = geminiClient(true).decodeRequest(snake, { model: 'm' });
    expect(b).toEqual(a);
    expect(b.system).toBe('Be brief.');
    expect(b.max_tokens).toBe(300);
    expect(b.top_k).toBe(40);
    expect(b.tool_choice).toEqual({ name: 'read_file' });
    expect(b.reasoning).toEqual({ budget_tokens: 2048, include_thoughts: true });
    expect(b.response_format).toEqual({ type: 'json_schema', name: 'response', schema: { type: 'object', properties: { file_name: { type: 'string' } } } });
    expect(b.messages[0].parts[1]).toEqual({ type: 'document', mime_type: 'application/pdf', data: PDF });
    expect(b.messages[1].parts[0]).toMatchObject({ type: 'tool_call', name: 'read_file', arguments: '{"file_path":"a.txt","max_lines":3}' });
    expect(b.tools?.[0].parameters).toEqual({ type: 'object', properties: { file_path: { type: 'string' }, max_lines: { type: 'integer' } } });
  });

  it('the camelCase spelling wins where a body has both', () => {
    expect(camelGemini({ generationConfig: { topK: 1 }, generation_config: { top_k: 2 } })).toEqual({ generationConfig: { topK: 1 } });
  });
});

describe('sampling controls: seed, top_k, logprobs', () => {
  it('seed 0 is a seed: kept to OpenAI and Gemini; Anthropic has no seed (a determinism hint it goes without)', () => {
    const ir = chat({ seed: 0 });
    expect(ir.seed).toBe(0);
    expect(toChat(ir).seed).toBe(0);
    expect(toGemini(ir).generationConfig.seed).toBe(0);
    expect(toClaude(ir)).not.toHaveProperty('seed');
    expect(toChat(gemini({ generationConfig: { seed: 42 } })).seed).toBe(42);
  });

  it('top_k: Anthropic top_k <-> Gemini topK; OpenAI has none and goes without (Gemini CLI always sends topK 64)', () => {
    const fromGemini = gemini({ generationConfig: { topK: 64 } });
    expect(toClaude(fromGemini).top_k).toBe(64);
    expect(toChat(fromGemini)).not.toHaveProperty('top_k');
    expect(toGemini(claude({ top_k: 5 })).generationConfig.topK).toBe(5);
  });

  it('top_k is left out while Anthropic thinks (it refuses the two together)', () => {
    const ir = gemini({ generationConfig: { topK: 64, temperature: 1, topP: 0.95, thinkingConfig: { thinkingBudget: 8192, includeThoughts: true } } });
    const body = toClaude({ ...ir, max_tokens: 16000 });
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
    expect(body).not.toHaveProperty('top_k');
  });

  it('logprobs: OpenAI logprobs/top_logprobs <-> Gemini responseLogprobs/logprobs; a 400 naming it for Anthropic', () => {
    const ir = chat({ logprobs: true, top_logprobs: 3 });
    expect(toGemini(ir).generationConfig).toMatchObject({ responseLogprobs: true, logprobs: 3 });
    const back = gemini({ generationConfig: { responseLogprobs: true, logprobs: 2 } });
    expect(toChat(back)).toMatchObject({ logprobs: true, top_logprobs: 2 });
    const e = thrown(() => toClaude(ir));
    expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.param).toBe('logprobs');
    // logprobs: false asks for nothing
    expect(toClaude(chat({ logprobs: false }))).not.toHaveProperty('logprobs');
  });
});

describe('log probabilities in answers', () => {
  const geminiAnswer = {
    candidates: [
      {
        content: { role: 'model', parts: [{ text: 'Hi there' }] },
        finishReason: 'STOP',
        logprobsResult: {
          chosenCandidates: [
            { token: 'Hi', logProbability: -0.1 },
            { token: ' there', logProbability: -0.5 },
          ],
          topCandidates: [{ candidates: [{ token: 'Hi', logProbability: -0.1 }, { token: 'Hello', logProbability: -2.3 }] }, { candidates: [{ token: ' there', logProbability: -0.5 }] }],
        },
      },
    ],
    usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
  };
  const irLogprobs = [
    { token: 'Hi', logprob: -0.1, top: [{ token: 'Hi', logprob: -0.1 }, { token: 'Hello', logprob: -2.3 }] },
    { token: ' there', logprob: -0.5, top: [{ token: ' there', logprob: -0.5 }] },
  ];
  const req: IRRequest = { model: 'm', messages: [], stream: false, logprobs: true };

  it('a Gemini answer’s logprobsResult reaches an OpenAI client as choices[0].logprobs, and back', () => {
    const ir = geminiUpstream.decodeResponse(geminiAnswer);
    expect(ir.logprobs).toEqual(irLogprobs);
    const body = openaiClient.encodeResponse(ir, 'm', req) as Body;
    expect(body.choices[0].logprobs.content[1]).toEqual({ token: ' there', logprob: -0.5, bytes: [...Buffer.from(' there')], top_logprobs: [{ token: ' there', logprob: -0.5, bytes: [...Buffer.from(' there')] }] });
    expect(openaiUpstream.decodeResponse(body).logprobs).toEqual(irLogprobs);
    const g = geminiClient(true).encodeResponse(openaiUpstream.decodeResponse(body), 'm', req) as Body;
    expect(g.candidates[0].logprobsResult).toEqual(geminiAnswer.candidates[0].logprobsResult);
  });

  it('streamed: each piece’s log probabilities go with its text, OpenAI chunks to Gemini chunks', () => {
    const chunk = (content: string, lp: unknown) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt', choices: [{ index: 0, delta: { content }, logprobs: lp, finish_reason: null }] })}\n\n`;
    const sse =
      chunk('Hi', { content: [{ token: 'Hi', logprob: -0.1, top_logprobs: [] }] }) +
      chunk(' there', { content: [{ token: ' there', logprob: -0.5, top_logprobs: [] }] }) +
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'gpt', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
    const parser = new SseParser();
    const decoder = new OpenAIChatStreamDecoder();
    const encoder = geminiClient(true).streamEncoder('m', { ...req, stream: true });
    const out = [...parser.push(sse), ...parser.end()].flatMap((ev) => decoder.push(ev)).flatMap((ev) => encoder.push(ev));
    const chunks = out.map((f) => JSON.parse(f.replace(/^data: /, '')) as Body);
    expect(chunks.map((c) => c.candidates[0].logprobsResult?.chosenCandidates)).toEqual([[{ token: 'Hi', logProbability: -0.1 }], [{ token: ' there', logProbability: -0.5 }]]);
    // and the Gemini stream reads back the same
    const acc = new IRAccumulator();
    const gp = new SseParser();
    const gd = new GeminiStreamDecoder();
    for (const ev of [...gp.push(out.join('')), ...gp.end()]) for (const e of gd.push(ev)) acc.push(e);
    expect(acc.response().logprobs).toEqual([
      { token: 'Hi', logprob: -0.1 },
      { token: ' there', logprob: -0.5 },
    ]);
  });
});

describe('tool controls: parallel_tool_calls, allowed_tools', () => {
  const withTools = { tools };

  it('parallel_tool_calls: false -> Anthropic disable_parallel_tool_use, on the client’s own choice or auto', () => {
    expect(toClaude(chat({ ...withTools, parallel_tool_calls: false })).tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(toClaude(chat({ ...withTools, parallel_tool_calls: false, tool_choice: 'required' })).tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(toClaude(chat({ ...withTools, parallel_tool_calls: false, tool_choice: 'none' })).tool_choice).toEqual({ type: 'none' });
    expect(toClaude(chat({ ...withTools, parallel_tool_calls: true })).tool_choice).toBeUndefined();
  });

  it('Anthropic disable_parallel_tool_use -> OpenAI parallel_tool_calls: false (only with tools, as OpenAI requires)', () => {
    const ir = claude({ tools: [weatherTool], tool_choice: { type: 'auto', disable_parallel_tool_use: true } });
    expect(ir.parallel_tool_calls).toBe(false);
    expect(toChat(ir).parallel_tool_calls).toBe(false);
    expect(toChat({ ...ir, tools: undefined })).not.toHaveProperty('parallel_tool_calls');
  });

  it('Gemini has no switch: the request is served, the model may still call several functions', () => {
    const body = toGemini(chat({ ...withTools, parallel_tool_calls: false }));
    expect(JSON.stringify(body)).not.toMatch(/parallel/i);
  });

  it('a Responses client gets back the parallel_tool_calls it sent', () => {
    const answer: IRResponse = { id: 'r', model: 'm', parts: [{ type: 'text', text: 'ok' }], stop_reason: 'stop', usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_tokens: 0 } };
    const req = (extra: Body) => responsesClient.decodeRequest({ model: 'm', input: 'hi', ...extra }, {});
    expect((responsesClient.encodeResponse(answer, 'm', req({ parallel_tool_calls: false })) as Body).parallel_tool_calls).toBe(false);
    expect((responsesClient.encodeResponse(answer, 'm', req({})) as Body).parallel_tool_calls).toBe(true);
  });
});

describe('bodies only a native upstream takes are untranslatable, not invalid', () => {
  it.each([
    ['n > 1', () => chat({ n: 2 }), 'n'],
    ['allowed_tools', () => chat({ tools, tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'screenshot' } }] } } }), 'tool_choice'],
    ['candidateCount > 1', () => gemini({ generationConfig: { candidateCount: 2 } }), 'generationConfig.candidateCount'],
  ])('%s: UnsupportedFeatureError naming the field', (_name, fn, param) => {
    const e = thrown(fn);
    expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.error).not.toBeInstanceOf(InvalidRequestError);
    expect(e.param).toBe(param);
  });

  it('n: 1 and candidateCount: 1 translate', () => {
    expect(chat({ n: 1 }).messages).toHaveLength(1);
    expect(gemini({ generationConfig: { candidateCount: 1 } }).messages).toHaveLength(1);
  });
});

describe('structured output to each upstream', () => {
  const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
  const jsonSchema = { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } };

  it('OpenAI json_schema / json_object -> Gemini responseMimeType application/json with responseJsonSchema', () => {
    expect(toGemini(chat({ response_format: jsonSchema })).generationConfig).toMatchObject({ responseMimeType: 'application/json', responseJsonSchema: schema });
    expect(toGemini(chat({ response_format: { type: 'json_object' } })).generationConfig).toEqual({ responseMimeType: 'application/json' });
  });

  it('to Claude 4.5 and later: output_config.format with the schema', () => {
    const body = toClaude(chat({ response_format: jsonSchema }), 'claude-sonnet-4-5-20250929');
    expect(body.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(body).not.toHaveProperty('tools');
  });

  it('to earlier Claude models, or any JSON object: a forced tool whose input is the answer', () => {
    const old = toClaude(chat({ response_format: jsonSchema }), 'claude-3-7-sonnet-20250219');
    expect(old.tools).toEqual([{ name: JSON_TOOL, description: expect.any(String), input_schema: schema }]);
    expect(old.tool_choice).toEqual({ type: 'tool', name: JSON_TOOL });
    expect(old).not.toHaveProperty('output_config');
    const any = toClaude(chat({ response_format: { type: 'json_object' } }));
    expect(any.tools).toEqual([{ name: JSON_TOOL, description: expect.any(String), input_schema: { type: 'object' } }]);
  });

  it('a forced JSON tool beside the client’s own tools is a 400 naming response_format; a forced tool means no thinking', () => {
    const e = thrown(() => toClaude(chat({ tools, response_format: { type: 'json_object' } })));
    expect(e.error).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.param).toBe('response_format');
    expect(toClaude(chat({ response_format: { type: 'json_object' }, reasoning_effort: 'high' }), 'claude-3-7-sonnet')).not.toHaveProperty('thinking');
  });

  it('which Claude models take output_config.format', () => {
    expect(['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929', 'claude-opus-4-6', 'claude-haiku-4-5@20251001', 'claude-opus-5'].map(takesOutputFormat)).toEqual([true, true, true, true, true]);
    expect(['claude-sonnet-4-20250514', 'claude-opus-4-1-20250805', 'claude-3-7-sonnet-20250219', 'gpt-4o'].map(takesOutputFormat)).toEqual([false, false, false, false]);
  });

  it('the forced tool’s call comes back as the answer’s text, whole and streamed, stopping as a text answer does', () => {
    const message = { id: 'msg_1', model: 'claude-3-7-sonnet', content: [{ type: 'tool_use', id: 'toolu_9', name: JSON_TOOL, input: { city: 'Paris' } }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 7 } };
    const ir = anthropicUpstream.decodeResponse(message);
    expect(ir.parts).toEqual([{ type: 'text', text: '{"city":"Paris"}' }]);
    expect(ir.stop_reason).toBe('stop');

    const ev = (data: Body) => `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
    const sse = [
      ev({ type: 'message_start', message: { id: 'msg_1', model: 'claude-3-7-sonnet', usage: { input_tokens: 5, output_tokens: 1 } } }),
      ev({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_9', name: JSON_TOOL, input: {} } }),
      ev({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
      ev({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
      ev({ type: 'content_block_stop', index: 0 }),
      ev({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } }),
      ev({ type: 'message_stop' }),
    ].join('');
    const parser = new SseParser();
    const decoder = new AnthropicStreamDecoder();
    const acc = new IRAccumulator();
    for (const e of [...parser.push(sse), ...parser.end()]) for (const x of decoder.push(e)) acc.push(x);
    expect(acc.response().parts).toEqual([{ type: 'text', text: '{"city":"Paris"}' }]);
    expect(acc.response().stop_reason).toBe('stop');
  });
});

describe('Gemini CLI', () => {
  const turn = (role: string, parts: Body[]) => ({ role, parts });
  const ids = (ms: IRMessage[]) => ms.flatMap((m) => m.parts).map((p) => (p.type === 'tool_call' ? `call:${p.id}` : p.type === 'tool_result' ? `result:${p.tool_call_id}` : p.type));

  it('0.1.x: a call without id and a response whose id the CLI made up are matched by name', () => {
    const ir = geminiClient(true).decodeRequest(
      {
        contents: [
          turn('user', [{ text: 'Run the tests.' }]),
          turn('model', [{ functionCall: { name: 'run_shell_command', args: { command: 'npm test' } } }]),
          turn('user', [{ functionResponse: { id: 'run_shell_command-1754899201234-9f3a2c', name: 'run_shell_command', response: { output: 'ok' } } }]),
        ],
      },
      { model: 'm' },
    );
    expect(ids(ir.messages)).toEqual(['text', 'call:call_0_run_shell_command', 'result:call_0_run_shell_command']);
    // so an OpenAI or Anthropic upstream gets a result answering the call
    const chatBody = toChat(ir);
    expect(chatBody.messages[2].tool_call_id).toBe(chatBody.messages[1].tool_calls[0].id);
  });

  it('an id that names a pending call is matched by id, whatever the order; others by name in order', () => {
    const ir = geminiClient(true).decodeRequest(
      {
        contents: [
          turn('user', [{ text: 'Go' }]),
          turn('model', [{ functionCall: { id: 'a', name: 'read', args: {} } }, { functionCall: { id: 'b', name: 'read', args: {} } }, { functionCall: { name: 'ls', args: {} } }]),
          turn('user', [
            { functionResponse: { id: 'b', name: 'read', response: {} } },
            { functionResponse: { id: 'made-up', name: 'ls', response: {} } },
            { functionResponse: { id: 'made-up-too', name: 'read', response: {} } },
          ]),
        ],
      },
      { model: 'm' },
    );
    expect(ids(ir.messages)).toEqual(['text', 'call:a', 'call:b', 'call:call_0_ls', 'result:b', 'result:call_0_ls', 'result:a']);
  });

  it('thinkingConfig {includeThoughts, thinkingBudget} reaches Anthropic as thinking when the bound leaves room for it', () => {
    // Gemini CLI's chat-base-2.5 config (test/fixtures/agents/gemini-cli-basic.json)
    const cli = gemini({ generationConfig: { temperature: 1, topP: 0.95, topK: 64, thinkingConfig: { includeThoughts: true, thinkingBudget: 8192 } } });
    expect(anthropicUpstream.encodeRequest({ ...cli, max_tokens: 64000 }, 'claude-sonnet-4-5')).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 8192 }, temperature: 1, top_p: 0.95 });
    expect(anthropicUpstream.encodeRequest({ ...cli, max_tokens: 4000 }, 'claude-sonnet-4-5').thinking).toEqual({ type: 'enabled', budget_tokens: 3999 });
    // below 1025 tokens of bound (the e2e models' limit is 1000) Anthropic cannot think: the call goes without thinking, and with the hint top_k
    const small = anthropicUpstream.encodeRequest({ ...cli, max_tokens: 1000 }, 'claude-sonnet-4-5');
    expect(small).not.toHaveProperty('thinking');
    expect(small.top_k).toBe(64);
    // 0.1.x sent includeThoughts alone (the model's default budget, medium's) with temperature 0: thinking left
    // to the model gives way to the temperature asked for, where an explicit budget would be a 400 naming it
    const legacy = gemini({ generationConfig: { temperature: 0, topP: 1, thinkingConfig: { includeThoughts: true } } });
    expect(anthropicUpstream.encodeRequest({ ...legacy, max_tokens: 64000 }, 'claude-sonnet-4-5')).toMatchObject({ temperature: 0, top_p: 1 });
    expect(anthropicUpstream.encodeRequest({ ...legacy, max_tokens: 64000 }, 'claude-sonnet-4-5')).not.toHaveProperty('thinking');
    expect(anthropicUpstream.encodeRequest({ ...legacy, temperature: 1, max_tokens: 64000 }, 'claude-sonnet-4-5').thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
    const explicit = gemini({ generationConfig: { temperature: 0, thinkingConfig: { thinkingBudget: 4096 } } });
    expect(thrown(() => anthropicUpstream.encodeRequest({ ...explicit, max_tokens: 64000 }, 'claude-sonnet-4-5')).param).toBe('temperature');
  });
});
