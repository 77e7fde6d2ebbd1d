/** A zod issue path as the field name clients know: `messages[0].content`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map(String).reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}
