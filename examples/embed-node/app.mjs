// examples/embed-node/app.mjs: an Express app that asks Rampart, in-process, before every
// request reaches a handler. The policy's routes map the raw HTTP request to an action and a
// resource, so the middleware passes the HTTP facts and what authentication established.
//
//   rampart build examples/payments -o bundle.json && cp examples/payments/entities.json .
//   npm install rampart-policy-0.1.0.tgz express
//   node app.mjs            # PORT=3000 by default
import { readFile } from 'node:fs/promises';
import express from 'express';
import { Rampart, RampartError } from 'rampart-policy';

const rampart = await Rampart.load(
  await readFile(process.env.RAMPART_BUNDLE ?? 'bundle.json'),
  await readFile(process.env.RAMPART_ENTITIES ?? 'entities.json', 'utf8'),
);

// Stand-ins for verified bearer tokens: use your own authentication (the claims of a JWT
// your middleware verified) in their place.
const TOKENS = {
  'token-alice': { method: 'jwt', subject: 'alice', scopes: ['payments:read'] },
  'token-carol': { method: 'jwt', subject: 'carol', scopes: ['payments:read', 'payments:write'] },
};

/** Decides every request; a deny answers 403 with the deciding rules and reasons. */
function authorize(req, res, next) {
  const token = (req.get('authorization') ?? '').replace(/^Bearer /, '');
  let decision;
  try {
    decision = rampart.decide({
      http: { method: req.method, path: req.originalUrl, headers: req.headers },
      context: {
        auth: TOKENS[token] ?? null,
        // The TLS proxy in front of this app accepts TLS 1.3 only.
        tls: { version: 'TLSv1.3', mtls: false },
      },
    });
  } catch (error) {
    // A request the policy cannot read (RequestError: no route maps it, a bad header) is
    // refused, never let through.
    if (!(error instanceof RampartError)) throw error;
    return res.status(403).json({ decision: 'deny', error: error.message });
  }
  if (!decision.allowed) {
    return res.status(403).json({ decision: 'deny', rules: decision.rules, reasons: decision.reasons });
  }
  res.locals.obligations = decision.obligations; // e.g. fields to mask in the response
  next();
}

const app = express();
app.use(authorize);
app.get('/v1/accounts/:id', (req, res) => {
  res.json({ id: req.params.id, masked: res.locals.obligations.flatMap((o) => o.fields ?? []) });
});
app.post('/v1/accounts/:id/payments', (req, res) => res.status(201).json({ account: req.params.id }));

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
