// What Codex CLI needs of a Responses API served by translation (Anthropic and Gemini channels), on
// transcripts in each provider's shape (__fixtures__/upstream/anthropic-thinking-patch.*: signed thinking,
// a preamble and an apply_patch call whose JSON arguments stream cut inside escapes;
// gemini-thought-shell.*: a thought summary and a signed local_shell call) and a Codex request in the
// shape codex-rs serializes it (__fixtures__/client/responses-codex.json: local_shell, a freeform apply_patch
// with its lark grammar, reasoning items, both kinds of calls and their outputs, include).
//
// Both directions, streamed and not: the tools and items the client sends become function tools, calls and
// results the upstream understands; the model's calls come back as the client's own custom_tool_call and
// local_shell_call items; its thinking comes back as a reasoning item whose encrypted_content restores the
// signed thinking block on the next turn.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { anthropicClient, anthropicUpstream } from '../anthropic/codec';
import { geminiUpstream } from '../gemini/codec';
import { IRAccumulator, UnsupportedFeatureError, type IREvent, type IRRequest, type IRResponse } from '../ir';
import { openaiClient } from '../openai/codec';
import { SseParser, type SseEvent } from '../sse/sse-parser';
import { FreeformInput, customInput, localShellAction } from './client-tools';
import { responsesClient } from './codec';
import { encryptedReasoning, thinkingFromEncrypted } from './encrypted-reasoning';
import { responsesToIR } from './request';
import { ResponsesStreamEncoder } from './stream';

const FIX = path.join(__dirname, '..', '__fixtures__');
const read = (p: string) => readFileSync(path.join(FIX, p), 'utf8');
const codexBody = () => JSON.parse(read('client/responses-codex.json')) as Record<string, any>;

const PATCH = '*** Begin Patch\n*** Update File: src/config.rs\n@@\n-    let raw = fs::read_to_string(path)?;\n+    let raw = fs::read_to_string(path).context("reading config")?;\n*** End Patch\n';
const CLAUDE_SIG = JSON.parse(read('upstream/anthropic-thinking-patch.json')).content[0].signature as string;
const CLAUDE_THINKING = "**Locating the parse error**\n\nThe config read fails without context; I'll wrap it with anyhow's context.";
const GEMINI_SIG = JSON.parse(read('upstream/gemini-thought-shell.json')).candidates[0].content.parts[1].thoughtSignature as string;

function events(text: string): SseEvent[] {
  const p = new SseParser();
  return [...p.push(text), ...p.end()];
}

function irEvents(upstream: 'anthropic' | 'gemini', sse: string): IREvent[] {
  const decoder = (upstream === 'anthropic' ? anthropicUpstream : geminiUpstream).streamDecoder();
  const out = events(sse).flatMap((e) => decoder.push(e));
  expect(decoder.completed()).toBe(true);
  return out;
}

function streamed(req: IRRequest, irs: IREvent[]): string {
  const enc = new ResponsesStreamEncoder('gpt-5-codex', req);
  return [...enc.begin(), ...irs.flatMap((e) => enc.push(e)), ...enc.end()].join('');
}

interface Built {
  id: string;
  type: string;
  text: string;
  done?: Record<string, any>;
}

/**
 * The Responses stream read strictly: sequence numbers in order, every delta naming an item that was added
 * and is not done, summary parts opened before their text, each done repeating what the deltas built, and
 * the completed response's output the items as they were done.
 */
function readStream(out: string): { items: Built[]; response: Record<string, any>; names: string[] } {
  const evs = events(out).map((e) => ({ name: e.event!, data: JSON.parse(e.data) as Record<string, any> }));
  evs.forEach((e, i) => {
    expect(e.data.type).toBe(e.name);
    expect(e.data.sequence_number).toBe(i);
  });
  const items: Built[] = [];
  const summaryOpen = new Set<number>();
  const open = (d: Record<string, any>) => {
    const item = items[d.output_index];
    expect(item).toBeDefined();
    expect(item.done).toBeUndefined();
    if ('item_id' in d) expect(d.item_id).toBe(item.id);
    return item;
  };
  for (const { name, data } of evs.slice(2, -1)) {
    switch (name) {
      case 'response.output_item.added':
        expect(data.output_index).toBe(items.length);
        items.push({ id: data.item.id, type: data.item.type, text: '' });
        break;
      case 'response.reasoning_summary_part.added':
        open(data);
        summaryOpen.add(data.output_index);
        break;
      case 'response.reasoning_summary_text.delta':
        expect(summaryOpen.has(data.output_index)).toBe(true);
        open(data).text += data.delta;
        break;
      case 'response.reasoning_summary_text.done':
      case 'response.output_text.done':
        expect(data.text).toBe(open(data).text);
        break;
      case 'response.reasoning_summary_part.done':
        expect(data.part).toEqual({ type: 'summary_text', text: open(data).text });
        break;
      case 'response.output_text.delta':
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        open(data).text += data.delta;
        break;
      case 'response.custom_tool_call_input.done':
        expect(data.input).toBe(open(data).text);
        break;
      case 'response.output_item.done': {
        const item = open(data);
        expect(data.item.id).toBe(item.id);
        if (item.type === 'custom_tool_call') expect(data.item.input).toBe(item.text);
        if (item.type === 'reasoning') expect(data.item.summary.map((s: { text: string }) => s.text).join('')).toBe(item.text);
        item.done = data.item;
        break;
      }
    }
  }
  expect(items.every((i) => i.done)).toBe(true);
  const last = evs[evs.length - 1];
  expect(last.name).toBe('response.completed');
  expect(last.data.response.output).toEqual(items.map((i) => i.done));
  return { items, response: last.data.response, names: evs.map((e) => e.name) };
}

/** The output items as Codex keeps them for its next request: no ids or statuses (codex-rs protocol/src/models.rs). */
function keptByCodex(output: Array<Record<string, any>>): Array<Record<string, unknown>> {
  return output.map((item) => {
    switch (item.type) {
      case 'reasoning':
        return { type: 'reasoning', summary: item.summary, content: null, encrypted_content: item.encrypted_content ?? null };
      case 'message':
        return { type: 'message', role: 'assistant', content: item.content.map((c: { text: string }) => ({ type: 'output_text', text: c.text })) };
      case 'custom_tool_call':
        return { type: 'custom_tool_call', call_id: item.call_id, name: item.name, input: item.input };
      case 'local_shell_call':
        return { type: 'local_shell_call', call_id: item.call_id, status: 'completed', action: item.action };
      default:
        return { type: 'function_call', call_id: item.call_id, name: item.name, arguments: item.arguments };
    }
  });
}

/** A Codex request whose first turn ends with `kept` and the tool's output. */
function nextTurn(kept: Array<Record<string, unknown>>, output: string): Record<string, any> {
  const body = codexBody();
  const firstAsk = body.input.slice(0, 2);
  const call = kept.find((i) => i.type !== 'reasoning' && i.type !== 'message')!;
  const result = call.type === 'custom_tool_call' ? 'custom_tool_call_output' : 'function_call_output';
  return { ...body, input: [...firstAsk, ...kept, { type: result, call_id: call.call_id, output }] };
}

describe('Codex requests translated', () => {
  it('takes include values it can honour or that cannot matter, and refuses the rest naming include', () => {
    const body = codexBody();
    expect(responsesToIR(body).encrypted_reasoning).toBe(true);
    expect(responsesToIR({ ...body, include: ['web_search_call.action.sources', 'message.input_image.image_url'] }).encrypted_reasoning).toBeUndefined();
    for (const bad of ['message.output_text.logprobs', 'reasoning.everything']) {
      let err: unknown;
      try {
        responsesToIR({ ...body, include: ['reasoning.encrypted_content', bad] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedFeatureError);
      expect((err as UnsupportedFeatureError).param).toBe('include');
      expect((err as Error).message).toContain(bad);
    }
  });

  it('offers local_shell and the freeform apply_patch as function tools, the grammar said in the input description', () => {
    const ir = responsesToIR(codexBody());
    const [shell, patch, plan] = ir.tools!;
    expect(shell).toMatchObject({ name: 'local_shell', origin: 'local_shell', parameters: { required: ['command'] } });
    expect(Object.keys((shell.parameters as { properties: object }).properties)).toEqual(['command', 'workdir', 'timeout_ms']);
    expect(patch).toMatchObject({ name: 'apply_patch', origin: 'custom', description: expect.stringContaining('FREEFORM'), parameters: { type: 'object', required: ['input'] } });
    const input = (patch.parameters as { properties: { input: { type: string; description: string } } }).properties.input;
    expect(input.type).toBe('string');
    expect(input.description).toContain('lark grammar');
    expect(input.description).toContain('start: begin_patch hunk+ end_patch');
    expect(plan.origin).toBeUndefined();
  });

  it('to Anthropic: every call and output of each kind is a tool_use and tool_result, each loop step starts with its signed thinking, and thinking stays on', () => {
    const body = anthropicUpstream.encodeRequest(responsesToIR(codexBody()), 'claude-sonnet-4-5') as Record<string, any>;
    expect(body.tools.map((t: { name: string }) => t.name)).toEqual(['local_shell', 'apply_patch', 'update_plan']);
    const msgs = body.messages as Array<{ role: string; content: Array<Record<string, any>> }>;
    expect(msgs.map((m) => `${m.role}:${m.content.map((b) => b.type).join(',')}`)).toEqual([
      'user:text',
      // OpenAI's own encrypted reasoning is not the gateway's: left out
      'assistant:tool_use',
      'user:tool_result',
      'assistant:text',
      'user:text',
      'assistant:thinking,text,tool_use',
      'user:tool_result',
      'assistant:thinking,tool_use',
      'user:tool_result',
    ]);
    expect(msgs[1].content[0]).toEqual({ type: 'tool_use', id: 'call_ls1', name: 'local_shell', input: { command: ['bash', '-lc', 'ls'], workdir: '/home/dev/proj' } });
    expect(msgs[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'call_ls1', content: 'Cargo.toml\nsrc\n' });
    expect(msgs[5].content[0]).toEqual({ type: 'thinking', thinking: CLAUDE_THINKING, signature: CLAUDE_SIG });
    expect(msgs[5].content[2]).toEqual({ type: 'tool_use', id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', name: 'apply_patch', input: { input: PATCH } });
    expect(msgs[6].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', content: expect.stringContaining('M src/config.rs') });
    expect(msgs[7].content[1]).toEqual({ type: 'tool_use', id: 'toolu_01ShellQ3wE5rT7yU9iO1pA2s', name: 'local_shell', input: { command: ['cargo', 'test'], workdir: '/home/dev/proj', timeout_ms: 120000 } });
    expect(msgs[8].content[0]).toMatchObject({ tool_use_id: 'toolu_01ShellQ3wE5rT7yU9iO1pA2s', content: 'test result: ok. 12 passed; 0 failed' });
    expect(body.thinking).toMatchObject({ type: 'enabled' });
  });

  it('to Gemini: calls are functionCalls answered by name, thinking (Gemini needs only the calls signed) left out', () => {
    const body = geminiUpstream.encodeRequest(responsesToIR(codexBody()), 'gemini-2.5-pro') as Record<string, any>;
    expect(body.tools[0].functionDeclarations.map((f: { name: string }) => f.name)).toEqual(['local_shell', 'apply_patch', 'update_plan']);
    const parts = (body.contents as Array<{ role: string; parts: Array<Record<string, any>> }>).flatMap((c) => c.parts.map((p): Record<string, any> => ({ role: c.role, ...p })));
    expect(parts.filter((p) => p.functionCall).map((p) => [p.functionCall.name, p.functionCall.args])).toEqual([
      ['local_shell', { command: ['bash', '-lc', 'ls'], workdir: '/home/dev/proj' }],
      ['apply_patch', { input: PATCH }],
      ['local_shell', { command: ['cargo', 'test'], workdir: '/home/dev/proj', timeout_ms: 120000 }],
    ]);
    expect(parts.filter((p) => p.functionResponse).map((p) => p.functionResponse.name)).toEqual(['local_shell', 'apply_patch', 'local_shell']);
    expect(parts.some((p) => p.thought)).toBe(false);
  });

  it('a local_shell_call_output may name its call by id, and a call without its fields is a 400 naming it', () => {
    const body = codexBody();
    const last = body.input.length - 1;
    body.input[last] = { type: 'local_shell_call_output', id: 'toolu_01ShellQ3wE5rT7yU9iO1pA2s', output: 'ok' };
    const ir = responsesToIR(body);
    expect(ir.messages[ir.messages.length - 1].parts).toEqual([{ type: 'tool_result', tool_call_id: 'toolu_01ShellQ3wE5rT7yU9iO1pA2s', content: 'ok' }]);
    expect(() => responsesToIR({ ...body, input: [{ type: 'local_shell_call', call_id: 'c', action: { type: 'exec' } }] })).toThrow(expect.objectContaining({ param: 'input[0].action.command' }));
    expect(() => responsesToIR({ ...body, input: [{ type: 'custom_tool_call', input: 'x', name: 'apply_patch' }] })).toThrow(expect.objectContaining({ param: 'input[0].call_id' }));
  });
});

describe('answers for Codex, not streamed', () => {
  const req = () => responsesToIR({ ...codexBody(), stream: false });

  it('from Anthropic: the signed thinking as a reasoning item whose encrypted_content holds the block, the preamble, the patch as a custom_tool_call', () => {
    const ir = anthropicUpstream.decodeResponse(JSON.parse(read('upstream/anthropic-thinking-patch.json')));
    const body = responsesClient.encodeResponse(ir, 'gpt-5-codex', req()) as Record<string, any>;
    const [reasoning, message, call, ...rest] = body.output;
    expect(rest).toEqual([]);
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: CLAUDE_THINKING }] });
    expect(thinkingFromEncrypted(reasoning.encrypted_content)).toEqual({ text: CLAUDE_THINKING, signature: CLAUDE_SIG });
    expect(message.content[0].text).toBe("I'll add context to the config read.");
    expect(call).toEqual({ type: 'custom_tool_call', id: expect.stringMatching(/^ctc_/), call_id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', name: 'apply_patch', input: PATCH, status: 'completed' });
    // the tools echoed as the client declared them
    expect(body.tools.map((t: { type: string }) => t.type)).toEqual(['local_shell', 'custom', 'function']);
  });

  it('without include, no encrypted_content', () => {
    const ir = anthropicUpstream.decodeResponse(JSON.parse(read('upstream/anthropic-thinking-patch.json')));
    const body = responsesClient.encodeResponse(ir, 'gpt-5-codex', responsesToIR({ ...codexBody(), include: undefined })) as Record<string, any>;
    expect(body.output[0].type).toBe('reasoning');
    expect('encrypted_content' in body.output[0]).toBe(false);
  });

  it('from Gemini: the thought as a reasoning item, the call as a local_shell_call with its exec action, its signature in the call_id', () => {
    const ir = geminiUpstream.decodeResponse(JSON.parse(read('upstream/gemini-thought-shell.json')));
    const body = responsesClient.encodeResponse(ir, 'gpt-5-codex', req()) as Record<string, any>;
    const [reasoning, call] = body.output;
    expect(reasoning.summary[0].text).toMatch(/^\*\*Listing the repository\*\*/);
    expect(thinkingFromEncrypted(reasoning.encrypted_content)).toEqual({ text: reasoning.summary[0].text });
    expect(call).toEqual({
      type: 'local_shell_call',
      id: expect.stringMatching(/^lsh_/),
      call_id: expect.stringMatching(/^call_0_local_shell__tsb_/),
      action: { type: 'exec', command: ['bash', '-lc', 'ls -la'], env: {}, working_directory: '/home/dev/proj', timeout_ms: 10000 },
      status: 'completed',
    });
  });
});

describe('answers for Codex, streamed', () => {
  const req = () => responsesToIR(codexBody());

  it('from Anthropic: a reasoning item streamed as its summary, the message, then the patch streamed as custom_tool_call_input deltas', () => {
    const { items, names } = readStream(streamed(req(), irEvents('anthropic', read('upstream/anthropic-thinking-patch.sse'))));
    expect(items.map((i) => i.type)).toEqual(['reasoning', 'message', 'custom_tool_call']);
    const [reasoning, message, call] = items;
    expect(reasoning.text).toBe(CLAUDE_THINKING);
    expect(thinkingFromEncrypted(reasoning.done!.encrypted_content)).toEqual({ text: CLAUDE_THINKING, signature: CLAUDE_SIG });
    expect(message.text).toBe("I'll add context to the config read.");
    expect(call.text).toBe(PATCH);
    expect(call.done).toMatchObject({ type: 'custom_tool_call', call_id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', name: 'apply_patch', input: PATCH, status: 'completed' });
    // the input streamed as it came, in more than one piece, not all at the end
    const deltas = names.filter((n) => n === 'response.custom_tool_call_input.delta').length;
    expect(deltas).toBeGreaterThan(1);
    expect(names.indexOf('response.custom_tool_call_input.delta')).toBeLessThan(names.indexOf('response.custom_tool_call_input.done') - 1);
    expect(names.slice(2, 6)).toEqual(['response.output_item.added', 'response.reasoning_summary_part.added', 'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.delta']);
  });

  it('from Gemini: the thought, then a local_shell_call whole when done', () => {
    const { items, names } = readStream(streamed(req(), irEvents('gemini', read('upstream/gemini-thought-shell.sse'))));
    expect(items.map((i) => i.type)).toEqual(['reasoning', 'local_shell_call']);
    expect(items[1].done).toMatchObject({ action: { type: 'exec', command: ['bash', '-lc', 'ls -la'], working_directory: '/home/dev/proj', timeout_ms: 10000 } });
    expect(names.filter((n) => n.includes('local_shell') || n.includes('function_call'))).toEqual([]);
  });

  it('says the same as the answer not streamed', () => {
    const strip = (o: Array<Record<string, unknown>>) => o.map(({ id: _id, ...rest }) => rest);
    for (const [upstream, file] of [
      ['anthropic', 'anthropic-thinking-patch'],
      ['gemini', 'gemini-thought-shell'],
    ] as const) {
      const { response } = readStream(streamed(req(), irEvents(upstream, read(`upstream/${file}.sse`))));
      const whole = responsesClient.encodeResponse((upstream === 'anthropic' ? anthropicUpstream : geminiUpstream).decodeResponse(JSON.parse(read(`upstream/${file}.json`))), 'gpt-5-codex', req()) as Record<string, any>;
      expect(strip(response.output)).toEqual(strip(whole.output));
      expect(response.usage).toEqual(whole.usage);
    }
  });

  it('thinking after a signed block is a reasoning item of its own, each with its signature', () => {
    const { items } = readStream(
      streamed(req(), [
        { type: 'thinking', text: 'first' },
        { type: 'thinking', text: '', signature: 'sigA' },
        { type: 'thinking', text: 'second' },
        { type: 'thinking', text: '', signature: 'sigB' },
        { type: 'text', text: 'done' },
      ]),
    );
    expect(items.map((i) => [i.type, i.text])).toEqual([
      ['reasoning', 'first'],
      ['reasoning', 'second'],
      ['message', 'done'],
    ]);
    expect(items.slice(0, 2).map((i) => thinkingFromEncrypted(i.done!.encrypted_content))).toEqual([
      { text: 'first', signature: 'sigA' },
      { text: 'second', signature: 'sigB' },
    ]);
  });
});

describe('the next turn: what Codex keeps of a translated answer goes back to the upstream as it came', () => {
  for (const streamedAnswer of [true, false]) {
    const mode = streamedAnswer ? 'streamed' : 'not streamed';

    it(`Anthropic (${mode}): the thinking block with its signature first, the patch call with its id, the output as its tool_result`, () => {
      const req = responsesToIR(codexBody());
      const output = streamedAnswer
        ? readStream(streamed(req, irEvents('anthropic', read('upstream/anthropic-thinking-patch.sse')))).response.output
        : (responsesClient.encodeResponse(anthropicUpstream.decodeResponse(JSON.parse(read('upstream/anthropic-thinking-patch.json'))), 'gpt-5-codex', req) as Record<string, any>).output;
      const next = responsesToIR(nextTurn(keptByCodex(output), 'Success.'));
      const body = anthropicUpstream.encodeRequest(next, 'claude-sonnet-4-5') as Record<string, any>;
      const [, assistant, results] = body.messages;
      expect(assistant.content).toEqual([
        { type: 'thinking', thinking: CLAUDE_THINKING, signature: CLAUDE_SIG },
        { type: 'text', text: "I'll add context to the config read." },
        { type: 'tool_use', id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', name: 'apply_patch', input: { input: PATCH } },
      ]);
      expect(results.content).toEqual([{ type: 'tool_result', tool_use_id: 'toolu_01PatchVb8nM2kQ4rT6yW9xZ', content: 'Success.' }]);
      // the loop kept its signed thinking, so thinking stays on
      expect(body.thinking).toMatchObject({ type: 'enabled' });
    });

    it(`Gemini (${mode}): the local_shell call with its thought signature, answered by name`, () => {
      const req = responsesToIR(codexBody());
      const output = streamedAnswer
        ? readStream(streamed(req, irEvents('gemini', read('upstream/gemini-thought-shell.sse')))).response.output
        : (responsesClient.encodeResponse(geminiUpstream.decodeResponse(JSON.parse(read('upstream/gemini-thought-shell.json'))), 'gpt-5-codex', req) as Record<string, any>).output;
      const next = responsesToIR(nextTurn(keptByCodex(output), 'Cargo.toml\nsrc\n'));
      const body = geminiUpstream.encodeRequest(next, 'gemini-2.5-pro') as Record<string, any>;
      const [, model, user] = body.contents;
      expect(model.parts).toEqual([{ functionCall: { name: 'local_shell', args: { command: ['bash', '-lc', 'ls -la'], workdir: '/home/dev/proj', timeout_ms: 10000 } }, thoughtSignature: GEMINI_SIG }]);
      expect(user.parts).toEqual([{ functionResponse: { name: 'local_shell', response: { result: 'Cargo.toml\nsrc\n' } } }]);
    });
  }
});

describe('the pieces', () => {
  it('FreeformInput reads the input out of its JSON however the arguments are cut', () => {
    const text = 'line "one"\n\ttab \\ back é \u{1F600} end';
    const args = JSON.stringify({ input: text }).replace('é', '\\u00e9');
    for (let size = 1; size <= 7; size++) {
      const f = new FreeformInput();
      let streamedText = '';
      for (let i = 0; i < args.length; i += size) streamedText += f.push(args.slice(i, i + size));
      expect(streamedText).toBe(text);
      expect(f.finish()).toEqual({ input: text, rest: '' });
    }
  });

  it('FreeformInput gives nothing for arguments of another shape, and their whole input at the end', () => {
    const f = new FreeformInput();
    expect(f.push('{"path": "a.txt", ')).toBe('');
    expect(f.push('"input": "x"}')).toBe('');
    expect(f.finish()).toEqual({ input: 'x', rest: 'x' });
  });

  it('a custom input cut by the output bound is what came of it; arguments without input are passed as they are', () => {
    expect(customInput('{"input":"*** Begin Patch\\n*** Add Fi')).toBe('*** Begin Patch\n*** Add Fi');
    expect(customInput('{"patch":"x"}')).toBe('{"patch":"x"}');
  });

  it('localShellAction: a command line string is one argument, a timeout a whole number of milliseconds', () => {
    expect(localShellAction('{"command":"ls -la","timeout_ms":"1500.4"}')).toEqual({ type: 'exec', command: ['ls -la'], env: {}, working_directory: null, timeout_ms: 1500 });
    expect(localShellAction('not json')).toEqual({ type: 'exec', command: [], env: {}, working_directory: null, timeout_ms: null });
  });

  it('encrypted_content: the gateway reads back only what it wrote', () => {
    const v = encryptedReasoning('thought "é"', 'c2lnbmF0dXJl+/==');
    expect(v).toMatch(/^gw1\.[A-Za-z0-9_-]+$/);
    expect(thinkingFromEncrypted(v)).toEqual({ text: 'thought "é"', signature: 'c2lnbmF0dXJl+/==' });
    expect(thinkingFromEncrypted(encryptedReasoning('t', undefined))).toEqual({ text: 't' });
    expect(thinkingFromEncrypted('gAAAAABpCw0k7Qm3vX9yTzL2aR5n')).toBeNull();
    expect(thinkingFromEncrypted('gw1.!!!')).toBeNull();
    expect(thinkingFromEncrypted(null)).toBeNull();
  });

  it("Anthropic's signature_delta signs the thinking block; other styles' streams carry no empty thinking for it", () => {
    const irs = irEvents('anthropic', read('upstream/anthropic-thinking-patch.sse'));
    const acc = new IRAccumulator();
    for (const e of irs) acc.push(e);
    const answer: IRResponse = acc.response();
    expect(answer.parts[0]).toEqual({ type: 'thinking', text: CLAUDE_THINKING, signature: CLAUDE_SIG });
    const req: IRRequest = { model: 'm', messages: [], stream: true, stream_usage: true };
    for (const client of [openaiClient, anthropicClient]) {
      const enc = client.streamEncoder('m', req);
      const out = irs.flatMap((e) => enc.push(e)).join('');
      expect(out).not.toMatch(/"reasoning_content":""|"thinking":""\}/);
    }
  });
});
