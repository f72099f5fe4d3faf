// Event types are exact and print as snake_case keys. These are compile-time promises, kept by
// `npm run typecheck` (tsc over spec/): each `@ts-expect-error` below must stay an error, or tsc
// fails on the unused directive. The runtime part only makes jest load the file.
import type { CollectorEvent } from '../../src';
import type { DaemonEvent } from '../../src/daemon/events';
import type { SnakeCaseFlatEvent, UnloggableFields } from '../../src/events';

function identityOf(e: CollectorEvent): string | undefined {
  if (e.kind === 'connect') {
    // @ts-expect-error a misspelt field does not compile (EventBase's index signature let it be `undefined`)
    const misspelt: unknown = e.identiy;
    void misspelt;
    return e.identity;
  }
  if (e.kind === 'post_failed') {
    // @ts-expect-error fields are snake_case: will_retry, not willRetry
    void e.willRetry;
    return e.will_retry ? 'retrying' : 'given up';
  }
  return undefined;
}

// Every event the daemon logs is flat and snake_case (the logger's parameter type says so too).
const everyEventLoggable: [UnloggableFields<CollectorEvent | DaemonEvent>] extends [never] ? true : false = true;

interface CamelEvent {
  readonly kind: 'x';
  readonly level: 'info';
  readonly retryInMs: number;
}
// @ts-expect-error a camelCase field makes an event unloggable
const camel: SnakeCaseFlatEvent<CamelEvent> = { kind: 'x', level: 'info', retryInMs: 1 };

describe('event types', () => {
  it('are exact and snake_case (checked by tsc; see above)', () => {
    expect(everyEventLoggable).toBe(true);
    expect(camel).toBeDefined();
    expect(
      identityOf({ kind: 'connect', level: 'info', serve: 'BLUE', socket: '/run/a.sock', identity: 'db1', server_version: '15' }),
    ).toBe('db1');
  });
});
