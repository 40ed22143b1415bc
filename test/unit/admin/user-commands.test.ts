import assert from 'node:assert/strict';
import { parseUserCommand, type CommandInput } from '../../../admin/user-commands.ts';

/** Parsing needs no store: every usage error is found before one is opened. */
describe('admin/user-commands: parsing `warden user ...`', function () {
  const input = (stdin = ''): CommandInput => ({ passwordMinLength: 10, readStdin: async () => stdin });

  async function usage(args: string[], message: RegExp, stdin?: string): Promise<void> {
    await assert.rejects(parseUserCommand(args, input(stdin)), (error: unknown) => {
      assert.equal((error as Error).name, 'UsageError', `${args.join(' ')}: ${String(error)}`);
      assert.match((error as Error).message, message, args.join(' '));
      return true;
    });
  }

  it('refuses unknown options in every subcommand, and options a subcommand does not take', async function () {
    for (const command of ['add', 'set', 'list', 'disable', 'enable', 'revoke', 'remove']) {
      const args = command === 'list' ? [command, '--bogus'] : [command, 'dana', '--bogus'];
      await usage(args, new RegExp(`^unknown option "--bogus" for warden user ${command}$`));
    }
    await usage(
      ['disable', 'dana', '--publish', 'a.b'],
      /unknown option "--publish" for warden user disable/,
    );
    await usage(['list', 'dana'], /warden user list takes no arguments/);
  });

  it('refuses a missing or extra username, an unknown subcommand and an empty set', async function () {
    await usage(['revoke'], /^usage: warden user revoke <username>$/);
    await usage(['remove', 'a', 'b'], /^usage: warden user remove <username>$/);
    await usage(['frobnicate'], /^unknown command "user frobnicate"/);
    await usage(['set', 'dana'], /nothing to change/);
  });

  it('checks passwords before anything else happens: length, both sources, an empty stdin', async function () {
    await usage(['add', 'dana', '--password', 'short'], /PASSWORD_MIN_LENGTH/);
    await usage(['set', 'dana', '--password-stdin'], /PASSWORD_MIN_LENGTH/, 'short\n');
    await usage(['add', 'dana', '--password-stdin'], /empty password/, '\n');
    await usage(['add', 'dana', '--password', 'long-enough-1', '--password-stdin'], /not both/);
  });

  it('lets only user add create a store', async function () {
    assert.equal((await parseUserCommand(['add', 'dana'], input())).createsStore, true);
    for (const args of [['list'], ['revoke', 'dana'], ['set', 'dana', '--role', 'ops'], ['remove', 'dana']])
      assert.equal((await parseUserCommand(args, input())).createsStore, false, args.join(' '));
  });
});
