import { UnsupportedFeatureError, type IRDocument, type IRImage, type IRMedia } from './ir';

// Images and documents as every style writes them: a MIME type says which one a blob or a link is, so a PDF
// in Gemini's inlineData is read as a document (an Anthropic `document` block, an OpenAI `file` part), never
// sent on as an image.

export function dataUrl(mime: string, data: string): string {
  return `data:${mime};base64,${data}`;
}

export function parseDataUrl(url: string): { mime: string; data: string } | null {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { mime: m[1], data: m[2] } : null;
}

/** A MIME type the document part carries: PDFs and plain texts, which Anthropic and OpenAI read as documents too. */
export function isDocumentMime(mime: string | undefined): boolean {
  return mime === 'application/pdf' || (mime?.startsWith('text/') ?? false);
}

/** A plain text's base64 as its text, so that every upstream can read it (Anthropic's text source, OpenAI's text part). */
function textDocument(mime: string, data: string, title?: string): IRDocument {
  return { type: 'document', mime_type: mime, text: Buffer.from(data, 'base64').toString('utf8'), ...(title ? { title } : {}) };
}

/**
 * A blob or a link with its MIME type, as the part it is; `at` names the field for a type no other style can
 * carry (audio, video: a 400 when translating, still served by a native upstream). A link without a type is
 * an image unless its path ends in .pdf.
 */
export function mediaPart(src: { data?: string; url?: string }, mime: string | undefined, at: string, title?: string): IRMedia {
  const type = mime ?? (src.url && /\.pdf(?:[?#]|$)/i.test(src.url) ? 'application/pdf' : undefined);
  if (type === undefined || type.startsWith('image/')) {
    const image: IRImage = { type: 'image', ...(src.url !== undefined ? { url: src.url } : { data: src.data }) };
    if (type) image.mime_type = type;
    return image;
  }
  if (isDocumentMime(type)) {
    if (src.data !== undefined && type.startsWith('text/')) return textDocument(type, src.data, title);
    return { type: 'document', mime_type: type, ...(src.url !== undefined ? { url: src.url } : { data: src.data }), ...(title ? { title } : {}) };
  }
  throw new UnsupportedFeatureError(at, `media of type '${type}' cannot be translated for this model's upstream (images, PDFs and plain text can)`);
}

/** The base64 a document is sent inline as (a plain text's own bytes when it came as text). */
export function documentData(d: IRDocument): string | undefined {
  return d.data ?? (d.text !== undefined ? Buffer.from(d.text, 'utf8').toString('base64') : undefined);
}

/** The label a tool's media gets where the upstream takes it outside the tool result (OpenAI chat). */
export function toolMediaLabel(toolCallId: string): string {
  return `[attachments returned by tool call ${toolCallId}]`;
}
