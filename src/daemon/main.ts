// Entry point of the `pg-logplexcollector` command. (Placeholder until the daemon is wired.)
export function main(_argv: readonly string[]): void {
  process.stdout.write('usage: pg-logplexcollector (SERVE_DB_DIR and LOGPLEX_URL from the environment)\n');
}
