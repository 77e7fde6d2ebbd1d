import { anthropicUpstream } from './anthropic/codec';
import type { UpstreamCodec } from './codec';
import { geminiUpstream } from './gemini/codec';
import { openaiUpstream } from './openai/codec';

const UPSTREAMS: Record<string, UpstreamCodec> = {
  openai: openaiUpstream,
  anthropic: anthropicUpstream,
  gemini: geminiUpstream,
};

export function upstreamCodec(provider: string): UpstreamCodec | undefined {
  return UPSTREAMS[provider];
}
