// The V string: which servers we accept and which ELevel table each one gets.
import { ProtocolError } from '../../src/protocol/errors';
import { majorVersionOf, parseVersion } from '../../src/protocol/version';

describe('parseVersion', () => {
  it.each([
    ['PG-15.20 (Debian 15.20-0+deb12u1)/logfebe-1', '15.20 (Debian 15.20-0+deb12u1)', 15],
    ['PG-9.2.4/logfebe-1', '9.2.4', 9.2],
    ['PG-9.4.26/logfebe-1', '9.4.26', 9.4],
    ['PG-12.19/logfebe-1', '12.19', 12],
    ['PG-17beta1/logfebe-1', '17beta1', 17],
    ['PG-18devel/logfebe-1', '18devel', 18],
    ['PG-10.0/logfebe-1', '10.0', 10],
    ['PG-13.16/logfebe-1', '13.16', 13],
    ['PG-9.6.24/logfebe-1', '9.6.24', 9.6],
    ['PG-16.4 (Ubuntu 16.4-1.pgdg22.04+1)/logfebe-1', '16.4 (Ubuntu 16.4-1.pgdg22.04+1)', 16],
  ])('reads %s', (version, serverVersion, major) => {
    expect(parseVersion(version)).toEqual({ type: 'V', version, serverVersion, major });
  });

  it('takes the last /logfebe- as the separator, since distributor text is free form', () => {
    expect(parseVersion('PG-15.1 (built /logfebe-x)/logfebe-1').serverVersion).toBe('15.1 (built /logfebe-x)');
  });

  it.each([
    ['PG-15.20/logfebe-2', 'logfebe: protocol version "logfebe-2" is not supported (want logfebe-1)'],
    ['PG-15.20/logfebe-10', 'logfebe: protocol version "logfebe-10" is not supported (want logfebe-1)'],
    ['PG-15.20/logfebe-', 'logfebe: protocol version "logfebe-" is not supported (want logfebe-1)'],
    ['PG-15.20/logfebe-1 ', 'logfebe: protocol version "logfebe-1 " is not supported (want logfebe-1)'],
    ['PG-15.20', 'logfebe: version "PG-15.20" is not PG-<server version>/logfebe-<n>'],
    ['15.20/logfebe-1', 'logfebe: version "15.20/logfebe-1" is not PG-<server version>/logfebe-<n>'],
    ['', 'logfebe: version "" is not PG-<server version>/logfebe-<n>'],
    ['PG/logfebe-1', 'logfebe: version "PG/logfebe-1" is not PG-<server version>/logfebe-<n>'],
    ['PG-/logfebe-1', 'logfebe: server version "" does not start with a number, so its ELevel numbering is unknown'],
    ['PG-devel/logfebe-1', 'logfebe: server version "devel" does not start with a number, so its ELevel numbering is unknown'],
  ])('refuses %j', (version, message) => {
    let caught: unknown;
    try {
      parseVersion(version);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ProtocolError);
    expect(caught).toMatchObject({ code: 'LOGFEBE_BAD_VERSION', message });
  });
});

describe('majorVersionOf', () => {
  it.each([
    ['9.4.26', 9.4],
    ['9.0beta1', 9],
    ['9.1', 9.1],
    ['8', 8],
    ['10', 10],
    ['10.23', 10],
    ['14beta3', 14],
    ['x', undefined],
  ])('%s -> %s', (serverVersion, major) => {
    expect(majorVersionOf(serverVersion)).toBe(major);
  });
});
