// listenUnix at a gate: the socket is bound, placed and announced inside the job's turn, so that
// a slice gate's clock counts all of that work (a tick later it ran past the slice's end).
import { existsSync } from 'node:fs';
import { listenUnix } from '../../src/source/listenUnix';
import type { Gate } from '../../src/source/sliceGate';
import { tempDir, waitFor } from './support';

describe('listenUnix at a gate', () => {
  it('is listening, its file in place, when its job at the gate returns', async () => {
    const tmp = tempDir();
    const path = tmp.path('a.sock');
    let listening = false;
    let inItsTurn: boolean | undefined;
    const laterTurn: Gate = (job) => {
      setImmediate(() => {
        job();
        inItsTurn = listening && existsSync(path);
      });
      return () => undefined;
    };
    const subscription = listenUnix(path, { mode: 0o600, gate: laterTurn, onListening: () => (listening = true) }).subscribe();
    try {
      await waitFor('its turn', () => inItsTurn !== undefined);
      expect(inItsTurn).toBe(true);
    } finally {
      subscription.unsubscribe();
      tmp.remove();
    }
  });
});
