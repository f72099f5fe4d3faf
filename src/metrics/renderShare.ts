// One render for many scrapes: a scrape that arrives while a render is under way waits for it,
// and one that arrives within `freshForMs` of the last render's start gets that render again. So
// however many scrapers there are, or however fast one of them loops, the collector renders at
// most once per `freshForMs`, and every scraper is sent the same bytes (no copy per scraper).
// Callers are handed a render one per turn of the event loop: the render is sliced, but 16
// scrapers handed it at once wrote it into their sockets in one go, holding the loop 15-20 ms.
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface Rendered {
  readonly chunks: readonly Buffer[]; // the exposition, in order
  readonly bytes: number; // their total length (the Content-Length)
  readonly gzipped?: { readonly chunks: readonly Buffer[]; readonly bytes: number }; // the same, gzip-encoded
}

export class RenderShare {
  #inFlight: Promise<Rendered> | undefined;
  #last: { readonly at: number; readonly rendered: Rendered } | undefined;
  #renders = 0;
  #handedOut: Promise<unknown> = Promise.resolve(); // settles once the last caller has had its turn

  constructor(
    private readonly render: () => Promise<Rendered>,
    private readonly freshForMs: number, // 0: only scrapes that overlap a render share it
    private readonly now: () => number = Date.now,
    private readonly turn: () => Promise<unknown> = nextTurn,
  ) {}

  /** Renders started so far (the scrapes served is higher when they shared). */
  get renders(): number {
    return this.#renders;
  }

  /** The render for a scrape, handed out on a turn of the event loop of its own. */
  get(): Promise<Rendered> {
    const rendered = this.#shared();
    const mine = this.#handedOut.then(() => rendered).then(async (r) => {
      await this.turn();
      return r;
    });
    this.#handedOut = mine.catch(() => undefined); // a failed render still lets the next caller go
    return mine;
  }

  #shared(): Promise<Rendered> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    const last = this.#last;
    if (last !== undefined && this.now() - last.at < this.freshForMs) return Promise.resolve(last.rendered);
    const at = this.now();
    this.#renders += 1;
    const inFlight = this.render().then(
      (rendered) => {
        this.#last = { at, rendered };
        return rendered;
      },
    );
    this.#inFlight = inFlight;
    const done = (): void => {
      if (this.#inFlight === inFlight) this.#inFlight = undefined;
    };
    inFlight.then(done, done);
    return inFlight;
  }

  /** Forgets the last render (its buffers are freed once no response still sends them). */
  clear(): void {
    this.#last = undefined;
  }
}
