import { InvalidRequestError, type IRTool } from '../ir';

// The Responses API's own tool kinds that Codex CLI sends, offered to other upstreams as function tools:
// a freeform `custom` tool (apply_patch, whose input is a patch in a lark grammar, not JSON) is a function
// with one string parameter `input`, and `local_shell` a function `local_shell` with the exec action's
// fields. The model's calls of them go back to the client as its own `custom_tool_call` and
// `local_shell_call` items, and those items, sent back on the next turn, are the function calls again.

export const LOCAL_SHELL = 'local_shell';

interface CustomToolDef {
  name?: string;
  description?: string;
  format?: { type?: string; syntax?: string; definition?: string } | null;
}

/** A `custom` tool as a function: the grammar, if any, is said in the parameter's description. */
export function customTool(t: CustomToolDef, at: string): IRTool {
  if (!t.name) throw new InvalidRequestError(`${at}.name`, 'a custom tool needs a name');
  const grammar = t.format?.type === 'grammar' && t.format.definition ? `\n\nThe text must match this ${t.format.syntax ?? ''} grammar:\n${t.format.definition}` : '';
  return {
    name: t.name,
    description: t.description,
    parameters: {
      type: 'object',
      properties: { input: { type: 'string', description: `The tool's input: the raw text itself (this tool takes free text, not JSON).${grammar}` } },
      required: ['input'],
      additionalProperties: false,
    },
    origin: 'custom',
  };
}

/** The `local_shell` tool as a function taking what its exec action holds. */
export function localShellTool(): IRTool {
  return {
    name: LOCAL_SHELL,
    description: "Runs a command on the user's machine and returns its output.",
    parameters: {
      type: 'object',
      properties: {
        command: { type: 'array', items: { type: 'string' }, description: 'The command and its arguments, as passed to execvp(); a shell command line goes as ["bash", "-lc", "<line>"].' },
        workdir: { type: 'string', description: 'The working directory to run the command in.' },
        timeout_ms: { type: 'number', description: 'How long the command may run, in milliseconds.' },
      },
      required: ['command'],
      additionalProperties: false,
    },
    origin: 'local_shell',
  };
}

function parsed(args: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(args) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A custom tool's input from the function call's arguments: `input`; of arguments cut short (the output
 * bound), as much of `input` as came; else the arguments as they came.
 */
export function customInput(args: string): string {
  const input = parsed(args)?.input;
  if (typeof input === 'string') return input;
  const cut = new FreeformInput();
  cut.push(args);
  return cut.started() ? cut.sent : args;
}

/** A custom_tool_call item's input as the function call's arguments. */
export function customArguments(input: string): string {
  return JSON.stringify({ input });
}

export interface LocalShellAction {
  type: 'exec';
  command: string[];
  env: Record<string, string>;
  working_directory: string | null;
  timeout_ms: number | null;
}

/** The local_shell_call action the function call's arguments stand for (a command line string is one argument). */
export function localShellAction(args: string): LocalShellAction {
  const a = parsed(args) ?? {};
  const command = Array.isArray(a.command) ? a.command.map(String) : typeof a.command === 'string' ? [a.command] : [];
  const timeout = typeof a.timeout_ms === 'number' ? a.timeout_ms : typeof a.timeout_ms === 'string' ? Number(a.timeout_ms) : NaN;
  return {
    type: 'exec',
    command,
    env: {},
    working_directory: typeof a.workdir === 'string' ? a.workdir : typeof a.working_directory === 'string' ? a.working_directory : null,
    // Codex reads it as an unsigned integer
    timeout_ms: Number.isFinite(timeout) && timeout >= 0 ? Math.round(timeout) : null,
  };
}

/** A local_shell_call item's action as the function call's arguments. */
export function localShellArguments(action: { command?: unknown; working_directory?: unknown; timeout_ms?: unknown } | undefined, at: string): string {
  if (!Array.isArray(action?.command)) throw new InvalidRequestError(`${at}.action.command`, 'a local_shell_call needs action.command, an array of strings');
  return JSON.stringify({
    command: action.command.map(String),
    ...(typeof action.working_directory === 'string' ? { workdir: action.working_directory } : {}),
    ...(typeof action.timeout_ms === 'number' ? { timeout_ms: action.timeout_ms } : {}),
  });
}

const INPUT_START = /^\s*\{\s*"input"\s*:\s*"/;
const INPUT_PREFIX = '{"input":"';

/**
 * Reads the `input` string out of `{"input": "…"}` arguments while they stream, so that a freeform call's
 * text streams to the client as the model writes it. Arguments of another shape give nothing here; the
 * caller sends their input whole when the call ends.
 */
export class FreeformInput {
  private raw = '';
  /** where the undecoded rest of the string starts in raw: -1 before it is found, -2 when it never will be */
  private at = -1;
  private ended = false;
  /** the text given out so far */
  sent = '';

  /** The input text these argument pieces add. */
  push(delta: string): string {
    this.raw += delta;
    if (this.at === -1) {
      const m = INPUT_START.exec(this.raw);
      if (m) this.at = m[0].length;
      else if (!INPUT_PREFIX.startsWith(this.raw.replace(/\s+/g, ''))) this.at = -2;
    }
    if (this.at < 0 || this.ended) return '';
    let out = '';
    let i = this.at;
    while (i < this.raw.length) {
      const c = this.raw[i];
      if (c === '"') {
        this.ended = true;
        i++;
        break;
      }
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      if (i + 1 >= this.raw.length) break; // the escape is cut: wait for the rest
      const e = this.raw[i + 1];
      if (e === 'u') {
        if (i + 6 > this.raw.length) break;
        out += String.fromCharCode(parseInt(this.raw.slice(i + 2, i + 6), 16));
        i += 6;
      } else {
        out += ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e;
        i += 2;
      }
    }
    this.at = i;
    this.sent += out;
    return out;
  }

  /** the arguments are `{"input": "` so far, and their input string is being read */
  started(): boolean {
    return this.at >= 0;
  }

  /** The whole input once the arguments are complete, and what of it has not been given out yet. */
  finish(): { input: string; rest: string } {
    const input = customInput(this.raw);
    return { input, rest: input.startsWith(this.sent) ? input.slice(this.sent.length) : '' };
  }
}
