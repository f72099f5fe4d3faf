// What /readyz says in each phase of the collector's life, from its events and serve set alone.
import { ReadinessTracker } from '../../src/metrics/readiness';
import { makeServe } from '../source/support';

const listening = (socket: string) => ({ kind: 'listening', level: 'info', serve: undefined, socket, mode: '0777', group: 0 }) as const;

describe('ReadinessTracker', () => {
  it('is not ready before start, ready when every serve listens, not ready while stopping', () => {
    const r = new ReadinessTracker();
    expect(r.readiness()).toEqual({ ready: false, reason: 'serve database not loaded yet' });
    r.onServeSet([makeServe('/run/a.sock', 'a', 't', 'A')]);
    r.onEvent({ kind: 'started', level: 'info', version: '0.1.0', serves: 1, serve_db: '/srv/db', open_files_limit: 1024, fd_reserve: 256 });
    expect(r.readiness()).toEqual({ ready: false, reason: '1 of 1 serves not listening: A (/run/a.sock) not listening yet' });
    r.onEvent(listening('/run/a.sock'));
    expect(r.readiness()).toEqual({ ready: true });
    r.onEvent({ kind: 'stopping', level: 'info', timeout_ms: 10_000 });
    expect(r.readiness()).toEqual({ ready: false, reason: 'stopping' });
    r.onEvent({ kind: 'stopped', level: 'info', delivered_all: true, serve_db_closed: true, duration_ms: 3 });
    expect(r.readiness()).toEqual({ ready: false, reason: 'stopped' });
  });

  it('names at most five serves that are down, with their listen error, and counts the rest', () => {
    const r = new ReadinessTracker();
    const set = Array.from({ length: 8 }, (_, i) => ({ ...makeServe(`/run/${i}.sock`, `id${i}`), name: i === 0 ? undefined : `S${i}` }));
    r.onServeSet(set);
    r.onEvent({ kind: 'started', level: 'info', version: '0.1.0', serves: 8, serve_db: '/srv/db', open_files_limit: 1024, fd_reserve: 256 });
    r.onEvent({ kind: 'listen_error', level: 'error', serve: undefined, socket: '/run/0.sock', code: 'LISTEN_NO_DIRECTORY', reason: 'x', retry_in_ms: 10_000, attempts: 1 });
    r.onEvent(listening('/run/7.sock'));
    expect(r.readiness()).toEqual({
      ready: false,
      reason:
        '7 of 8 serves not listening: (unnamed) (/run/0.sock): LISTEN_NO_DIRECTORY, S1 (/run/1.sock) not listening yet, ' +
        'S2 (/run/2.sock) not listening yet, S3 (/run/3.sock) not listening yet, S4 (/run/4.sock) not listening yet, and 2 more',
    });
    // A serve removed from the set no longer counts; one that stops listening does again.
    r.onServeSet(set.slice(7));
    expect(r.readiness()).toEqual({ ready: true });
    r.onEvent({ kind: 'stopped_listening', level: 'info', serve: 'S7', socket: '/run/7.sock' });
    expect(r.readiness().ready).toBe(false);
  });
});
