// tambah: the collection's pre-request script (tests/postman/prerequest.js,
// copied into the collection by tests/postman/generate.py).
//
// Every request gets a fresh {{refid}} (at most 25 characters). A request
// whose authorization is "No Auth" (health, tokens) is sent as it is; every
// other one is authenticated:
// - api_key and api_secret set: an HMAC v1 signature (X-Api-Key, X-Timestamp,
//   X-Nonce, X-Signature; docs/api.md, Authentication). Query values and the
//   body are resolved here and written back, so what is sent is exactly what
//   was signed ({{$guid}} and the like included);
// - otherwise: Authorization: Bearer <IdToken>, taken from {{token}}, or
//   fetched from /v2/token with {{username}} and {{password}} and kept there.

const cryptoJs = require('crypto-js');

pm.variables.set('refid', 'PM-' + Date.now().toString(36) + '-' +
  pm.variables.replaceIn('{{$guid}}').replace(/-/g, '').slice(0, 10));
pm.variables.set('tambahAuthUsed', 'none');
pm.variables.set('tambahAuthError', '');

(function () {
  if (pm.request.auth && pm.request.auth.type === 'noauth') {
    return;
  }
  const apiKey = pm.variables.get('api_key');
  const apiSecret = pm.variables.get('api_secret');
  const dropHeaders = function (names) {
    pm.request.headers.remove(function (h) {
      return names.indexOf(String(h.key).toLowerCase()) >= 0;
    });
  };

  if (apiKey || apiSecret) {
    if (!apiKey || !apiSecret) {
      throw new Error('tambah: set both api_key and api_secret (or neither, to use a token)');
    }
    sign(apiKey, apiSecret);
    return;
  }
  bearer();

  // The query's name=value pairs are decoded as a form is (+ is a space).
  function formDecode(text) {
    return String(text).replace(/\+/g, ' ').replace(/(%[0-9A-Fa-f]{2})+/g, function (run) {
      try {
        return decodeURIComponent(run);
      } catch (e) {
        return run;
      }
    });
  }

  function formEncode(text) {
    return encodeURIComponent(text).replace(/%20/g, '+');
  }

  // Sorted as the server sorts: by key, then value, in code point order.
  function compareText(a, b) {
    const x = Array.from(a);
    const y = Array.from(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d !== 0) {
        return d;
      }
    }
    return x.length - y.length;
  }

  function sign(key, secret) {
    const pairs = [];
    pm.request.url.query.each(function (p) {
      if (p.disabled || (!p.key && (p.value === null || p.value === undefined))) {
        return;
      }
      const k = formDecode(pm.variables.replaceIn(p.key || ''));
      const v = p.value === null || p.value === undefined ? '' : formDecode(pm.variables.replaceIn(String(p.value)));
      pairs.push([k, v]);
      p.key = encodeURIComponent(k);
      p.value = encodeURIComponent(v);
    });
    pairs.sort(function (a, b) {
      return compareText(a[0], b[0]) || compareText(a[1], b[1]);
    });
    const sortedQuery = pairs.map(function (kv) { return kv[0] + '=' + kv[1]; }).join('&');

    let body = '';
    const b = pm.request.body;
    if (b && !b.disabled && b.mode && !(typeof b.isEmpty === 'function' && b.isEmpty())) {
      if (b.mode === 'raw') {
        body = pm.variables.replaceIn(b.raw || '');
        pm.request.body.update({ mode: 'raw', raw: body, options: b.options });
      } else if (b.mode === 'urlencoded') {
        const fields = [];
        b.urlencoded.each(function (p) {
          if (!p.disabled) {
            fields.push(formEncode(pm.variables.replaceIn(p.key || '')) + '=' +
              formEncode(pm.variables.replaceIn(p.value === null || p.value === undefined ? '' : String(p.value))));
          }
        });
        body = fields.join('&');
        pm.request.body.update({ mode: 'raw', raw: body });
        dropHeaders(['content-type']);
        pm.request.headers.add({ key: 'Content-Type', value: 'application/x-www-form-urlencoded' });
      } else {
        throw new Error('tambah: a ' + b.mode + ' body cannot be signed here; send JSON or a form');
      }
    }

    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = pm.variables.replaceIn('{{$guid}}').replace(/-/g, '');
    const bodyHash = cryptoJs.enc.Base64.stringify(cryptoJs.SHA256(cryptoJs.enc.Utf8.parse(body)));
    const canonical = ['v1', timestamp, nonce, pm.request.method.toUpperCase(), sortedQuery, bodyHash].join(':');
    const mac = cryptoJs.HmacSHA256(cryptoJs.enc.Utf8.parse(canonical), cryptoJs.enc.Base64.parse(secret));

    dropHeaders(['authorization', 'x-api-key', 'x-timestamp', 'x-nonce', 'x-signature']);
    pm.request.headers.add({ key: 'X-Api-Key', value: key });
    pm.request.headers.add({ key: 'X-Timestamp', value: timestamp });
    pm.request.headers.add({ key: 'X-Nonce', value: nonce });
    pm.request.headers.add({ key: 'X-Signature', value: 'v1=' + cryptoJs.enc.Base64.stringify(mac) });
    pm.variables.set('tambahAuthUsed', 'hmac');
  }

  function useToken(token) {
    dropHeaders(['authorization', 'x-api-key', 'x-timestamp', 'x-nonce', 'x-signature']);
    pm.request.headers.add({ key: 'Authorization', value: 'Bearer ' + token });
    pm.variables.set('tambahAuthUsed', 'bearer');
  }

  function bearer() {
    const cached = pm.variables.get('token');
    const expiresAt = Number(pm.collectionVariables.get('tokenExpiresAt') || 0);
    if (cached && (!expiresAt || Date.now() < expiresAt - 60000)) {
      useToken(cached);
      return;
    }
    const username = pm.variables.get('username');
    const password = pm.variables.get('password');
    if (!username || !password) {
      throw new Error('tambah: set api_key and api_secret, or username and password, in the environment');
    }
    const baseUrl = String(pm.variables.get('baseUrl') || '').replace(/\/+$/, '');
    pm.sendRequest({
      url: baseUrl + '/v2/token',
      method: 'POST',
      header: [{ key: 'Content-Type', value: 'application/json' }],
      body: { mode: 'raw', raw: JSON.stringify({ username: username, password: password }) }
    }, function (err, res) {
      // Thrown here, an error would not fail the run: the test script reports it.
      if (err || res.code !== 200) {
        pm.variables.set('tambahAuthUsed', 'bearer');
        pm.variables.set('tambahAuthError', '/v2/token: ' + (err ? String(err) : res.code + ' ' + res.text()));
        return;
      }
      const result = res.json().AuthenticationResult;
      if (pm.environment.has('token')) {
        pm.environment.set('token', result.IdToken);
      } else {
        pm.collectionVariables.set('token', result.IdToken);
      }
      pm.collectionVariables.set('tokenExpiresAt', String(Date.now() + Number(result.ExpiresIn) * 1000));
      useToken(result.IdToken);
    });
  }
})();
