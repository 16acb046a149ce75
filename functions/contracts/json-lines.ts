/**
 * The values of a JSON Lines text, skipping blank lines and lines that do not parse: the journal's last line
 * may be torn by a power cut, and a reader must go on with the complete ones.
 */
export function parseJsonLines(text: string): unknown[] {
  const values: unknown[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      // torn or foreign line
    }
  }
  return values;
}
