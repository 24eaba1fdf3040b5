// RFC 4180 CSV: quoted cells, doubled quotes, CRLF or LF line ends, line breaks
// inside quoted cells, and a UTF-8 byte-order mark at the start. Each record
// carries the physical line it starts on, so errors can point at the file.

/** A syntax error, with the 1-based physical line it was found on. */
export class CsvSyntaxError extends Error {
  override name = "CsvSyntaxError";
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

export interface CsvRecord {
  /** The physical line (1-based) the record starts on. */
  readonly line: number;
  readonly cells: string[];
}

const UNQUOTED = /[^,\r\n]*/y;
const LINE_BREAK = /\r\n|\r|\n/g;

function countLineBreaks(s: string): number {
  return s.match(LINE_BREAK)?.length ?? 0;
}

/** Parses CSV text into records. Blank lines are skipped. */
export function* parseCsv(text: string): Generator<CsvRecord> {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    let sawQuote = false;
    for (;;) {
      if (text[i] === '"') {
        sawQuote = true;
        const opened = line;
        let cell = "";
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q < 0) throw new CsvSyntaxError(opened, "a quoted cell is never closed (unterminated quote)");
          const chunk = text.slice(i, q);
          cell += chunk;
          line += countLineBreaks(chunk);
          if (text[q + 1] === '"') {
            cell += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\r" && next !== "\n") {
          throw new CsvSyntaxError(line, `unexpected ${JSON.stringify(next)} after a closing quote (a quote inside a quoted cell is written "")`);
        }
        cells.push(cell);
      } else {
        // A quote inside an unquoted cell is taken literally, as most CSV readers do.
        UNQUOTED.lastIndex = i;
        UNQUOTED.exec(text);
        cells.push(text.slice(i, UNQUOTED.lastIndex));
        i = UNQUOTED.lastIndex;
      }
      if (text[i] === ",") {
        i++;
        continue;
      }
      // The record ends at a line break or at the end of the text.
      if (text[i] === "\r") i += text[i + 1] === "\n" ? 2 : 1;
      else if (text[i] === "\n") i++;
      line++;
      break;
    }
    if (cells.length === 1 && cells[0] === "" && !sawQuote) continue;
    yield { line: start, cells };
  }
}

const NEEDS_QUOTES = /[",\r\n]/;

/** Quotes a cell's text when it holds a comma, a quote or a line break. */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV line, with its line end. */
export function csvLine(cells: readonly string[]): string {
  return cells.map(csvField).join(",") + "\n";
}
