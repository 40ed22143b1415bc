/**
 * Prints rows as aligned columns under a header, two spaces apart, as `warden user list` and
 * `warden role list` show them.
 *
 * @example
 *   printTable(console.log, ['ROLE', 'PUBLISH'], [['chat', 'chat.*']]);
 */
export function printTable(
  out: (line: string) => void,
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows]) {
    out(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  }
}
