import assert from 'node:assert/strict';
import { passwordProblem } from '../../../auth/registration.ts';

describe('registration password policy', function () {
  const reason = (username: string, password: string, min = 10) =>
    passwordProblem(username, password, min)?.reason ?? null;

  it('names the rule a password breaks, with the status it is answered with', function () {
    assert.equal(reason('dana', 'short'), 'password-too-short');
    // Code points, as PASSWORD_MIN_LENGTH counts them: nine emoji are nine characters.
    assert.equal(reason('dana', '😀'.repeat(9)), 'password-too-short');
    assert.equal(reason('dana', '😀'.repeat(10)), null);
    assert.equal(reason('dana', 'é'.repeat(513)), 'password-too-long');
    assert.equal(reason('dana', 'x'.repeat(1024)), null);
    assert.equal(reason('DanaDana1234', 'danadana1234'), 'password-is-username');
    assert.equal(reason('dana', 'QWERTYUIOP'), 'password-common');
    assert.equal(reason('dana', '1q2w3e4r5t'), 'password-common');
    assert.equal(reason('dana', 'a long and unusual passphrase'), null);
    assert.equal(passwordProblem('dana', 'short', 10)?.status, 400);
    assert.equal(passwordProblem('dana', 'short', 10)?.name, 'RegistrationError');
  });
});
