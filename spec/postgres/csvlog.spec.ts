// The csvlog reader of the real-PostgreSQL test (npm run test:postgres), on rows written the way
// PostgreSQL 15's write_csvlog writes them. Needs no PostgreSQL.
import { CsvlogError, parseCsv, parseCsvlog, parseStderrLog } from './csvlog';

// Two records as PostgreSQL 15.20 wrote them (26 columns): a postmaster LOG with a HINT, and an
// ERROR whose statement spans lines and holds a quote.
const CSVLOG =
  '2026-12-01 13:39:56.540 UTC,,,19322,,6b0ece2c.4b7a,1,,2026-12-01 13:39:56 UTC,,0,LOG,00000,"ending log output to stderr",,' +
  '"Future log output will go to log destination ""csvlog"".",,,,,,,"","postmaster",,0\n' +
  '2026-12-01 13:40:01.002 UTC,"postgres","postgres",19400,"[local]",6b0ece31.4bc8,7,"SELECT",2026-12-01 13:40:00 UTC,3/12,0,ERROR,42601,' +
  '"syntax error at or near ""SELEC""",,,,,,"SELEC 1\n  FROM nowhere;",1,,"e2e-errors","client backend",,0\n';

describe('parseCsv', () => {
  it('keeps commas, doubled quotes and newlines inside quoted fields', () => {
    expect(parseCsv('a,"b,c","d""e","f\ng"\n')).toEqual([['a', 'b,c', 'd"e', 'f\ng']]);
  });

  it('tells NULL (nothing) from the empty string ("")', () => {
    expect(parseCsv(',"",x\n')).toEqual([[null, '', 'x']]);
  });

  it('reads rows ended by \\n, \\r\\n, or the end of the text', () => {
    expect(parseCsv('a,b\r\nc,d\ne,f')).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f']]);
    expect(parseCsv('')).toEqual([]);
  });

  it('refuses an unterminated quote and text after a closing quote', () => {
    expect(() => parseCsv('"abc\n')).toThrow(CsvlogError);
    expect(() => parseCsv('"abc"x,1\n')).toThrow(CsvlogError);
  });
});

describe('parseCsvlog', () => {
  it('reads the columns the comparison needs', () => {
    const [first, second] = parseCsvlog(CSVLOG);
    expect(first).toMatchObject({ pid: 19322, sessionLine: 1, severity: 'LOG', sqlState: '00000', message: 'ending log output to stderr', detail: null });
    expect(first?.hint).toBe('Future log output will go to log destination "csvlog".');
    expect(first?.backendType).toBe('postmaster');
    expect(second).toMatchObject({ pid: 19400, sessionLine: 7, severity: 'ERROR', sqlState: '42601', query: 'SELEC 1\n  FROM nowhere;' });
    expect(second?.message).toBe('syntax error at or near "SELEC"');
    expect(second?.applicationName).toBe('e2e-errors');
  });

  it('refuses a row that is not a csvlog record', () => {
    expect(() => parseCsvlog('a,b,c\n')).toThrow(/columns/);
  });
});

describe('parseStderrLog', () => {
  it('counts records, not their DETAIL or HINT lines', () => {
    const text =
      '2026-12-01 13:39:56.540 UTC [19322] LOG:  redirecting log output to logging collector process\n' +
      '2026-12-01 13:39:56.540 UTC [19322] HINT:  Future log output will appear in directory "/tmp/x/pg/log".\n';
    expect(parseStderrLog(text)).toEqual([{ pid: 19322, severity: 'LOG', message: 'redirecting log output to logging collector process' }]);
  });
});
