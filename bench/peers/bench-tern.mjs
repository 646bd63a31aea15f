#!/usr/bin/env node
// bench-tern.mjs — the peers' load driver with the Tern adapter (tern-adapter.mjs).
// Run through scripts/peers.sh, which starts ternd the way ../shared/peers/run.sh starts
// a peer; PEERS_DIR is that directory.
const { main } = await import(`${process.env.PEERS_DIR}/lib/runner.mjs`);
const { default: adapter } = await import('./tern-adapter.mjs');
await main(adapter);
