/**
 * Bad input: names the file (and line, when there is one) so the user can find and fix it.
 * The CLI turns it into exit code 1 with the message alone, no stack trace.
 */
export class InputError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  /** What is wrong, without the place. */
  readonly problem: string;

  constructor(file: string, line: number | undefined, problem: string) {
    super(`${line === undefined ? file : `${file}:${line}`}: ${problem}`);
    this.name = 'InputError';
    this.file = file;
    this.line = line;
    this.problem = problem;
  }
}

/**
 * Wrong command-line usage: exit code 2. `flag` names the option whose value is wrong, so the CLI can say
 * when that value came from the config file rather than the command line.
 */
export class UsageError extends Error {
  readonly flag: string | undefined;

  constructor(message: string, flag?: string) {
    super(message);
    this.name = 'UsageError';
    this.flag = flag;
  }
}
