// agent-js (@icp-sdk/core) talks to `localnet serve` as to the IC: the root key from the status, a
// query whose node signature it verifies, an update through the v4 call endpoint whose certificate
// it verifies, a certified read_state of the canister's module hash and controllers, a certified
// query (the ledger's ICRC-3 tip certificate), a page through the HTTP gateway, and the refusals (bad
// signature, expired ingress, unknown canister and method, a trapping method). `LOCALNET_BIN`,
// `PROBE_WASM` and `LEDGER_WASM` name the binary and the canisters (scripts/test.sh sets them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  HttpAgent,
  Actor,
  CanisterStatus,
  SignIdentity,
  Certificate,
  Cbor,
  Expiry,
  lookupResultToBuffer,
  reconstruct,
} from '@icp-sdk/core/agent';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import { Principal } from '@icp-sdk/core/principal';

const bin = process.env.LOCALNET_BIN ?? '../../target/debug/localnet';
const wasm = process.env.PROBE_WASM ?? '../../target/canisters/localnet-probe.wasm.gz';
const ledgerWasm = process.env.LEDGER_WASM ?? '../../target/canisters/icrc-ledger.wasm.gz';
const ledgerInit = `(variant { Init = record { token_name = "Test"; token_symbol = "TST"; decimals = 8;
  transfer_fee = 10_000; minting_account = record { owner = principal "aaaaa-aa"; subaccount = null };
  initial_balances = vec { record { record { owner = principal "2vxsx-fae"; subaccount = null }; 1_000_000 } };
  max_memo_length = null; min_burn_amount = null } })`;

let server;
let host;
let rootKeyHex;
let canisterId;
let ledgerId;

before(async () => {
  const anonymous = Principal.anonymous().toText();
  const args = ['serve', '--bind', '127.0.0.1:0', '--install', wasm, '--as', anonymous];
  args.push('--install', ledgerWasm, '--init', ledgerInit, '--as', anonymous);
  server = spawn(bin, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    server.on('error', reject);
    server.on('exit', (code) => reject(new Error(`localnet serve exited with ${code}`)));
    server.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('stop with Ctrl-C')) resolve();
    });
  });
  host = out.match(/at (http:\/\/\S+)/)[1];
  rootKeyHex = out.match(/root key \(DER, hex\): ([0-9a-f]+)/)[1];
  [canisterId, ledgerId] = [...out.matchAll(/canister (\S+):/g)].map((m) => m[1]);
});

after(() => server?.kill());

const idl = ({ IDL }) =>
  IDL.Service({
    ticks: IDL.Func([], [IDL.Nat64], ['query']),
    random: IDL.Func([], [IDL.Vec(IDL.Nat8)], []),
    fail: IDL.Func([], [], []),
  });

async function agentFor(identity) {
  return HttpAgent.create({ host, identity, shouldFetchRootKey: true });
}

test('the status gives the root key the server printed', async () => {
  const agent = await agentFor(Ed25519KeyIdentity.generate());
  assert.equal(Buffer.from(agent.rootKey).toString('hex'), rootKeyHex);
  assert.equal(rootKeyHex.length, 266);
});

test('a query and an update, with query signatures and certificates verified', async () => {
  const agent = await agentFor(Ed25519KeyIdentity.generate());
  const probe = Actor.createActor(idl, { agent, canisterId });
  assert.equal(typeof (await probe.ticks()), 'bigint');
  const random = await probe.random();
  assert.equal(random.length, 32);
  assert.notDeepEqual(Array.from(await probe.random()), Array.from(random), 'each update runs anew');
});

test('read_state: the module hash and the controllers, certified', async () => {
  const agent = await agentFor(Ed25519KeyIdentity.generate());
  const status = await CanisterStatus.request({
    canisterId: Principal.fromText(canisterId),
    agent,
    paths: ['module_hash', 'controllers', 'time'],
  });
  const expected = createHash('sha256').update(readFileSync(wasm)).digest('hex');
  assert.equal(status.get('module_hash'), expected);
  assert.deepEqual(
    status.get('controllers').map((p) => p.toText()),
    [Principal.anonymous().toText()],
  );
  const skew = Math.abs(status.get('time').getTime() - Date.now());
  assert.ok(skew < 60_000, `the certified time follows the wall clock (${skew} ms off)`);
});

test('refusals: a bad signature, an unknown canister, an unknown method', async () => {
  // An identity whose signatures are one bit off: its requests are refused before any canister.
  class Forger extends SignIdentity {
    constructor(inner) {
      super();
      this.inner = inner;
    }
    getPublicKey() {
      return this.inner.getPublicKey();
    }
    async sign(blob) {
      const signature = new Uint8Array(await this.inner.sign(blob));
      signature[0] ^= 1;
      return signature;
    }
  }
  const forged = Actor.createActor(idl, {
    agent: await agentFor(new Forger(Ed25519KeyIdentity.generate())),
    canisterId,
  });
  await assert.rejects(forged.ticks(), /signature/i);

  const agent = await agentFor(Ed25519KeyIdentity.generate());
  const nowhere = Actor.createActor(idl, { agent, canisterId: Principal.fromHex('00000000000000990101') });
  await assert.rejects(nowhere.ticks());
  const wrong = Actor.createActor(
    ({ IDL }) => IDL.Service({ nothing: IDL.Func([], [], ['query']) }),
    { agent, canisterId },
  );
  await assert.rejects(wrong.nothing(), /IC0302|has no query method/);
});

test('a trapping method and an expired request are refused with the reason', async () => {
  const agent = await agentFor(Ed25519KeyIdentity.generate());
  const probe = Actor.createActor(idl, { agent, canisterId });
  await assert.rejects(probe.fail(), /traps on purpose/);

  const late = await agentFor(Ed25519KeyIdentity.generate());
  late.addTransform('update', async (request) => {
    request.body.ingress_expiry = Expiry.fromDeltaInMilliseconds(-10 * 60 * 1000);
    return request;
  });
  const stale = Actor.createActor(idl, { agent: late, canisterId });
  await assert.rejects(stale.random(), /expir/i);
});

test('a certified query: the ICRC-3 tip certificate verifies against the root key', async () => {
  const agent = await agentFor(Ed25519KeyIdentity.generate());
  const ledger = Actor.createActor(
    ({ IDL }) =>
      IDL.Service({
        icrc3_get_tip_certificate: IDL.Func(
          [],
          [IDL.Opt(IDL.Record({ certificate: IDL.Vec(IDL.Nat8), hash_tree: IDL.Vec(IDL.Nat8) }))],
          ['query'],
        ),
      }),
    { agent, canisterId: ledgerId },
  );
  const [tip] = await ledger.icrc3_get_tip_certificate();
  assert.ok(tip, 'the ledger has a tip');
  const ledgerPrincipal = Principal.fromText(ledgerId);
  // Verifies the BLS signature with the root key and the certificate's time against the clock.
  const certificate = await Certificate.create({
    certificate: new Uint8Array(tip.certificate),
    rootKey: agent.rootKey,
    canisterId: ledgerPrincipal,
  });
  const certified = lookupResultToBuffer(
    certificate.lookup_path(['canister', ledgerPrincipal.toUint8Array(), 'certified_data']),
  );
  const tree = Cbor.decode(new Uint8Array(tip.hash_tree));
  assert.deepEqual(
    Buffer.from(certified).toString('hex'),
    Buffer.from(await reconstruct(tree)).toString('hex'),
    'the certified data is the root of the tip hash tree',
  );
});

test('the HTTP gateway serves the canister\'s http_request', async () => {
  const page = await fetch(`${host}/hello?canisterId=${canisterId}`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /^hello from the probe: GET \/hello\?canisterId=/);
  const posted = await fetch(`${host}/form?canisterId=${canisterId}`, { method: 'POST', body: 'a=1' });
  assert.equal(posted.status, 201);
  assert.equal(await posted.text(), 'post 1: a=1');
});
