// What main() prints as one line before exiting with status 2: a flag, an environment variable
// or an option a stage refuses, named with what to write instead.
import { CollectorError } from '../errors';

export class ConfigError extends CollectorError {
  readonly code = 'CONFIG_INVALID';
  override readonly name = 'ConfigError';
}
