// ELevel numbers to PostgreSQL's own severity names, before and after 14 renumbered them.
import { severityOf } from '../../src/protocol/elevel';

const BEFORE_14 = [
  [10, 'DEBUG'], [11, 'DEBUG'], [12, 'DEBUG'], [13, 'DEBUG'], [14, 'DEBUG'],
  [15, 'LOG'], [16, 'LOG'], [17, 'INFO'], [18, 'NOTICE'], [19, 'WARNING'],
  [20, 'ERROR'], [21, 'FATAL'], [22, 'PANIC'],
] as const;

const FROM_14 = [
  [10, 'DEBUG'], [11, 'DEBUG'], [12, 'DEBUG'], [13, 'DEBUG'], [14, 'DEBUG'],
  [15, 'LOG'], [16, 'LOG'], [17, 'INFO'], [18, 'NOTICE'], [19, 'WARNING'],
  [20, 'WARNING'], [21, 'ERROR'], [22, 'FATAL'], [23, 'PANIC'],
] as const;

describe('severityOf', () => {
  it.each([9.2, 9.4, 9.6, 10, 12, 13])('uses the 9.x-13 table on %s', (major) => {
    for (const [elevel, name] of BEFORE_14) expect([elevel, severityOf(elevel, major)]).toEqual([elevel, { name, label: name }]);
  });

  it.each([14, 15, 17, 18])('uses the 14+ table on %s', (major) => {
    for (const [elevel, name] of FROM_14) expect([elevel, severityOf(elevel, major)]).toEqual([elevel, { name, label: name }]);
  });

  it('reads 20 as ERROR on 13 and as WARNING (WARNING_CLIENT_ONLY) on 14', () => {
    expect(severityOf(20, 13).name).toBe('ERROR');
    expect(severityOf(20, 14).name).toBe('WARNING');
    expect(severityOf(21, 13).name).toBe('FATAL');
    expect(severityOf(21, 15).name).toBe('ERROR');
  });

  it.each([
    [42, 15],
    [9, 15],
    [0, 15],
    [-1, 15],
    [24, 15],
    [23, 13],
    [2147483647, 9.4],
  ])('counts unknown elevel %i on %s as LOG, keeping the number', (elevel, major) => {
    expect(severityOf(elevel, major)).toEqual({ name: 'LOG', label: `LOG (elevel ${elevel})` });
  });
});
