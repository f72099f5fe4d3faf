// PRI per severity, through the whole formatter: the number in the frame is what logplex sees.
import type { SeverityName } from '../../src/protocol/messages';
import { syslogPri } from '../../src/format';
import { aRecord, frameFormatter, parseFrame, sourced } from './records';

const cases: ReadonlyArray<readonly [SeverityName, number]> = [
  ['DEBUG', 135],
  ['LOG', 134],
  ['INFO', 134],
  ['NOTICE', 133],
  ['WARNING', 133],
  ['ERROR', 132],
  ['FATAL', 131],
  ['PANIC', 130],
];

describe('PRI = facility × 8 + PostgreSQL syslog severity', () => {
  it.each(cases)('%s on local0 → <%d>', (name, pri) => {
    expect(syslogPri(16, name)).toBe(pri);
    const frames = frameFormatter()(sourced(aRecord({ ErrDetail: 'd' }), { severity: { name, label: name } }));
    expect(frames.map((f) => parseFrame(f).pri)).toEqual([pri, pri]);
    expect(parseFrame(frames[0] as Buffer).msg).toContain(` ${name}:  `);
  });

  it('follows the facility option', () => {
    expect(syslogPri(0, 'ERROR')).toBe(4);
    expect(syslogPri(23, 'DEBUG')).toBe(191);
    const frame = frameFormatter({ facility: 1 })(sourced(aRecord(), { severity: { name: 'LOG', label: 'LOG' } }))[0] as Buffer;
    expect(parseFrame(frame).pri).toBe(14);
  });

  it('an unknown elevel prints its label and counts as LOG', () => {
    const frame = frameFormatter()(sourced(aRecord({ ELevel: 42 }), { severity: { name: 'LOG', label: 'LOG (elevel 42)' } }))[0] as Buffer;
    const f = parseFrame(frame);
    expect(f.pri).toBe(134);
    expect(f.msg).toBe('[BLUE] [5-1] sql_error_code = 00000 LOG (elevel 42):  statement: select 1');
  });
});
