// tambah: the collection's test script (tests/postman/test.js, copied into the
// collection by tests/postman/generate.py), run after every request's own.
//
// A request the pre-request script authenticated must not be refused for its
// credentials (401), whatever else the description allows it to answer.
// When the run names the scheme it means to exercise ({{expectAuth}}: hmac or
// bearer, as tests/postman/run.sh sets it), every authenticated request must
// have used that one: a run meant to test the signatures cannot pass on tokens.
// A token the pre-request script could not get is reported here, as a failure.
const expectAuth = pm.variables.get('expectAuth');
const authUsed = pm.variables.get('tambahAuthUsed');
const authError = pm.variables.get('tambahAuthError');
if (authError) {
  pm.test('the pre-request script got a token', function () {
    pm.expect.fail(authError);
  });
}
if (authUsed && authUsed !== 'none') {
  pm.test('the credentials are accepted (not 401)', function () {
    pm.expect(pm.response.code).to.not.equal(401);
  });
}
if (expectAuth && authUsed !== 'none') {
  pm.test('authenticated with ' + expectAuth, function () {
    pm.expect(authUsed).to.equal(expectAuth);
  });
}
