// agent-js (@icp-sdk/core) talks to `localnet serve` as to the IC: the root key from the status, a
// query whose node signature it verifies, an update through the v4 call endpoint whose certificate
// it verifies, a certified read_state of the canister's module hash and controllers, and the
// refusals. `LOCALNET_BIN` and `PROBE_WASM` name the binary and the canister (scripts/test.sh sets
// them).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpAgent, Actor, CanisterStatus, SignIdentity } from '@icp-sdk/core/agent';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import { Principal } from '@icp-sdk/core/principal';

const bin = process.env.LOCALNET_BIN ?? '../../target/debug/localnet';
const wasm = process.env.PROBE_WASM ?? '../../target/canisters/localnet-probe.wasm.gz';

let server;
let host;
let rootKeyHex;
let canisterId;

before(async () => {
  server = spawn(bin, ['serve', '--bind', '127.0.0.1:0', '--install', wasm, '--as', Principal.anonymous().toText()], {
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
  canisterId = out.match(/canister (\S+):/)[1];
});

after(() => server?.kill());

const idl = ({ IDL }) =>
  IDL.Service({
    ticks: IDL.Func([], [IDL.Nat64], ['query']),
    random: IDL.Func([], [IDL.Vec(IDL.Nat8)], []),
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
