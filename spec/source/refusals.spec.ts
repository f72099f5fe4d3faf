// The refusal report on virtual time: the first refusal of each reason is said at once, the rest
// as one count per reason and interval, and what is still counted when the serve stops is said then.
import { VirtualTimeScheduler } from 'rxjs';
import type { RefusalReason } from '../../src/source/admission';
import { RefusalReport } from '../../src/source/refusals';

describe('RefusalReport', () => {
  it('says the first of each reason at once, then one count per reason and interval, and the rest at close()', () => {
    const vt = new VirtualTimeScheduler();
    const said: string[] = [];
    const report = new RefusalReport(1_000, vt, (reason: RefusalReason, refused: number) => said.push(`${reason}=${refused}@${vt.now()}`));
    for (let i = 0; i < 5; i++) report.refused('max_connections');
    report.refused('open_file_limit');
    expect(said).toEqual(['max_connections=1@0', 'open_file_limit=1@0']);
    vt.maxFrames = 1_000;
    vt.flush();
    expect(said).toEqual(['max_connections=1@0', 'open_file_limit=1@0', 'max_connections=4@1000']);
    report.refused('max_connections'); // within the interval the count opened
    report.close();
    expect(said.at(-1)).toBe('max_connections=1@1000');
    expect(vt.actions).toEqual([]); // nothing left running once the serve stopped
  });
});
