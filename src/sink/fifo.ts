// A first-in first-out line read from a head index: Array.shift() moves every element left, which
// a line of thousands (batches queued through an outage, outboxes waiting for a post slot, the
// deadlines of 10,000 lanes) pays on every take.

export class Fifo<T> {
  #items: T[] = [];
  #head = 0; // the next item taken; items before it are gone

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, left in place; undefined when the line is empty. */
  peek(): T | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#head];
  }

  /** The oldest item, removed; undefined when the line is empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T; // let it go now, not at the next compaction
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
