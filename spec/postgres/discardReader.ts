// A reader of pg_logfebe's socket that only reads and discards: what any reader costs the server,
// whatever it does with the records. Eager, it reads each connection as soon as it is readable;
// in ticks, it sleeps a tick after each round of reads, as the collector does. A few lines of C,
// built at test time with the compiler pg_logfebe already needed.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from './cluster';

const SOURCE = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_FDS 1024

/* usage: discard-reader SOCKET TICK_MS (0: eager). Prints "ready" once listening. */
int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int tick_ms = atoi(argv[2]);
  int listener = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
  unlink(argv[1]);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0) { perror("listen"); return 1; }
  chmod(argv[1], 0777);
  fcntl(listener, F_SETFL, O_NONBLOCK);
  printf("ready\n");
  fflush(stdout);
  static struct pollfd fds[MAX_FDS];
  static char buf[256 * 1024];
  int n = 1;
  fds[0].fd = listener;
  fds[0].events = POLLIN;
  struct timespec tick = {.tv_sec = tick_ms / 1000, .tv_nsec = (long)(tick_ms % 1000) * 1000000L};
  for (;;) {
    if (poll(fds, n, -1) < 0 && errno != EINTR) return 1;
    for (int i = 1; i < n; i++) {
      if (fds[i].revents == 0) continue;
      for (;;) {
        ssize_t got = read(fds[i].fd, buf, sizeof buf);
        if (got > 0) continue;
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
        close(fds[i].fd); /* end of stream, or an error */
        fds[i--] = fds[--n];
        break;
      }
    }
    if (fds[0].revents != 0) {
      int c;
      while (n < MAX_FDS && (c = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        fds[n].fd = c;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
      }
    }
    if (tick_ms > 0) nanosleep(&tick, NULL);
  }
}
`;

/** Compiles the reader into `dir`; returns the binary's path. Rejects when there is no cc. */
export async function buildDiscardReader(dir: string, timeoutMs: number): Promise<string> {
  const source = join(dir, 'discard-reader.c');
  const binary = join(dir, 'discard-reader');
  writeFileSync(source, SOURCE);
  const r = await runCommand(process.env.CC ?? 'cc', ['-O2', '-o', binary, source], { timeoutMs });
  if (r.code !== 0) throw new Error(`cc could not build the discard reader: ${r.stderr}`);
  return binary;
}

/** A running reader on `socketPath`, `tickMs` 0 for eager. */
export class DiscardReader {
  private constructor(readonly child: ChildProcess) {}

  static async start(binary: string, socketPath: string, tickMs: number): Promise<DiscardReader> {
    const child = spawn(binary, [socketPath, String(tickMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the discard reader exited ${code} before listening`)));
      child.stdout?.once('data', () => resolve());
    });
    return new DiscardReader(child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}
