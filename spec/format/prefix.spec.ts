// log_line_prefix escapes, one by one, against a record whose every field is distinct.
import { compilePrefix, FormatError } from '../../src/format';
import { hostOf } from '../../src/format/prefix';
import { aRecord } from './records';

const session = aRecord({
  LogTime: '2026-11-25 01:43:51.596 UTC',
  UserName: 'alice',
  DatabaseName: 'shop',
  Pid: 4517,
  ClientAddr: '10.0.0.5:51234',
  SessionId: '6b0640f6.11a5',
  SeqNum: 5,
  PsDisplay: 'INSERT',
  SessionStart: '2026-11-25 01:40:00 UTC',
  Vxid: '3/42',
  Txid: 736,
  SQLState: '23505',
  ApplicationName: 'psql',
});

// A background process: no session, so every session field is null.
const background = aRecord({
  UserName: null,
  DatabaseName: null,
  ClientAddr: null,
  PsDisplay: null,
  Vxid: null,
  Txid: 0,
  SQLState: null,
  ApplicationName: null,
});

describe('compilePrefix: each escape', () => {
  it.each([
    ['%a', 'psql'],
    ['%u', 'alice'],
    ['%d', 'shop'],
    ['%r', '10.0.0.5:51234'],
    ['%h', '10.0.0.5'],
    ['%p', '4517'],
    ['%t', '2026-11-25 01:43:51 UTC'],
    ['%m', '2026-11-25 01:43:51.596 UTC'],
    ['%l', '5'],
    ['%s', '2026-11-25 01:40:00 UTC'],
    ['%c', '6b0640f6.11a5'],
    ['%v', '3/42'],
    ['%x', '736'],
    ['%e', '23505'],
    ['%i', 'INSERT'],
    ['%%', '%'],
  ])('%s → %s', (template, expected) => {
    expect(compilePrefix(template)(session)).toBe(expected);
  });

  it('mixes literals and escapes', () => {
    expect(compilePrefix('[%p-%l] %u@%d ')(session)).toBe('[4517-5] alice@shop ');
    expect(compilePrefix('sql_error_code = %e ')(session)).toBe('sql_error_code = 23505 ');
    expect(compilePrefix('100%% %u')(session)).toBe('100% alice');
    expect(compilePrefix('')(session)).toBe('');
    expect(compilePrefix('plain')(session)).toBe('plain');
  });

  it('%t keeps a numeric zone', () => {
    expect(compilePrefix('%t|%m')(aRecord({ LogTime: '2026-11-25 04:43:51.596 +03' }))).toBe('2026-11-25 04:43:51 +03|2026-11-25 04:43:51.596 +03');
  });
});

describe('compilePrefix: nulls and %q', () => {
  it('a null field prints nothing', () => {
    expect(compilePrefix('a=%a u=%u d=%d r=%r h=%h v=%v e=%e i=%i.')(background)).toBe('a= u= d= r= h= v= e= i=.');
    expect(compilePrefix('%x')(background)).toBe('0'); // PostgreSQL prints 0 without an xid
  });

  it('%q stops the prefix for records without a session (UserName null)', () => {
    const prefix = compilePrefix('%p %q%u@%d ');
    expect(prefix(session)).toBe('4517 alice@shop ');
    expect(prefix(background)).toBe('4517 ');
    expect(prefix(aRecord({ UserName: null, DatabaseName: 'shop' }))).toBe('4517 ');
  });

  it('%q at the very end changes nothing', () => {
    expect(compilePrefix('%p%q')(session)).toBe('4517');
    expect(compilePrefix('%p%q')(background)).toBe('4517');
  });
});

describe('compilePrefix: padding as PostgreSQL', () => {
  it('positive pads on the left, negative on the right', () => {
    expect(compilePrefix('[%10u]')(session)).toBe('[     alice]');
    expect(compilePrefix('[%-10u]')(session)).toBe('[alice     ]');
    expect(compilePrefix('[%6p]')(session)).toBe('[  4517]');
  });

  it('a value longer than the width is not cut', () => {
    expect(compilePrefix('[%2u]')(session)).toBe('[alice]');
  });

  it('a null field with padding prints the spaces', () => {
    expect(compilePrefix('[%-4u]')(background)).toBe('[    ]');
  });

  it('a `-` not followed by a digit is the escape itself', () => {
    expect(() => compilePrefix('%-u')).toThrow(FormatError);
  });
});

describe('compilePrefix: escapes PostgreSQL knows that logfebe does not carry', () => {
  it.each(['%b', '%n', '%P', '%Q'])('%s prints nothing', (template) => {
    expect(compilePrefix(`<${template}>`)(session)).toBe('<>');
  });
});

describe('compilePrefix: refused templates', () => {
  it.each([
    ['%U', /unknown escape %U at position 0/],
    ['abc %z', /unknown escape %z at position 4/],
    ['50%', /lone % at position 2/],
    ['%q%u%q', /%q appears twice/],
    ['a\nb', /line break/],
    ['a\rb', /line break/],
  ])('%j', (template, why) => {
    let caught: unknown;
    try {
      compilePrefix(template);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).code).toBe('FORMAT_BAD_PREFIX');
    expect((caught as FormatError).message).toMatch(why);
    expect((caught as FormatError).message).toMatch(/format\.linePrefix/);
  });
});

describe('hostOf (%h)', () => {
  it.each([
    ['10.0.0.5:51234', '10.0.0.5'],
    ['[local]', '[local]'],
    ['::1:51234', '::1'],
    ['2001:db8::7:5432', '2001:db8::7'],
    ['db.example.com:5432', 'db.example.com'],
    ['host-without-port', 'host-without-port'],
    ['fe80::abcd', 'fe80::abcd'], // what follows the last colon is not a port
  ])('%s → %s', (addr, host) => {
    expect(hostOf(addr)).toBe(host);
  });

  it('null stays null', () => {
    expect(hostOf(null)).toBeNull();
  });
});
