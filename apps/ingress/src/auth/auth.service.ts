import { Injectable } from '@nestjs/common';
import { DomainError, type KeyPrincipal, type ModelView } from '@gateway/contracts';
import { annotateCall } from '../shared/call-logging';
import type { FastifyRequest } from 'fastify';
import { KeyCacheService } from './key-cache.service';

@Injectable()
export class AuthService {
  constructor(private readonly keys: KeyCacheService) {}

  /** OpenAI style: `Authorization: Bearer sk-…`. */
  bearerKey(req: FastifyRequest): string | undefined {
    const h = req.headers.authorization;
    if (!h) return undefined;
    const m = /^Bearer\s+(.+)$/i.exec(h.trim());
    return m?.[1]?.trim();
  }

  /** Claude style: `x-api-key`, or Bearer (the 1.x SDK sends Bearer). */
  anthropicKey(req: FastifyRequest): string | undefined {
    const h = req.headers['x-api-key'];
    return (typeof h === 'string' && h.trim()) || this.bearerKey(req);
  }

  /** Gemini style: `?key=`, `x-goog-api-key` (the Google SDK), or Bearer. */
  geminiKey(req: FastifyRequest): string | undefined {
    const q = (req.query as Record<string, unknown> | undefined)?.key;
    if (typeof q === 'string' && q) return q;
    const h = req.headers['x-goog-api-key'];
    return (typeof h === 'string' && h.trim()) || this.bearerKey(req);
  }

  /** requestId: the call's, whose access line and request-log row then name the key and its account */
  async authenticate(plaintext: string | undefined, requestId?: string): Promise<KeyPrincipal> {
    if (!plaintext) {
      throw new DomainError('unauthorized', "You didn't provide an API key. Send it as 'Authorization: Bearer sk-...' (or the header your API style uses).");
    }
    const principal = plaintext.startsWith('sk-') ? await this.keys.lookup(plaintext) : null;
    if (!principal) {
      const shown = plaintext.length > 10 ? `${plaintext.slice(0, 6)}…${plaintext.slice(-4)}` : '***';
      throw new DomainError('unauthorized', `Incorrect API key provided: ${shown}.`);
    }
    if (principal.expires_at && Date.parse(principal.expires_at) <= Date.now()) {
      throw new DomainError('unauthorized', 'This API key has expired.');
    }
    annotateCall(requestId, { key_id: principal.key_id, account_id: principal.account_id });
    return principal;
  }

  assertModelAllowed(principal: KeyPrincipal, model: ModelView): void {
    if (principal.models.length === 0) return;
    if (principal.models.includes(model.id) || model.aliases.some((a) => principal.models.includes(a))) return;
    throw new DomainError('model_not_allowed', `This API key is not allowed to use model ${model.id}.`, 'model');
  }
}
