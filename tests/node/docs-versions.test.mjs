// The README names the library versions the code panels target (#27); the pins that the peers
// suite installs and runs them with are tools/peers/requirements.txt and tools/setup_peers.sh.
// This keeps the two from drifting apart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';

const read = (p) => readFileSync(new URL(`../../${p}`, import.meta.url), 'utf8');
const pin = (text, pkg) => text.match(new RegExp(`${pkg}==([0-9.]+)`))?.[1];
const minor = (v) => v.split('.').slice(0, 2).join('.');

test('the README\'s library versions are the ones the peers suite runs the code panels with', () => {
  const readme = read('README.md').replace(/\s+/g, ' ');
  const req = read('tools/peers/requirements.txt'), setup = read('tools/setup_peers.sh');
  const want = {
    transformers: minor(pin(req, 'transformers')),
    TransformerLens: minor(pin(setup, 'transformer-lens')), // the page's HookedTransformer code: the tl3 folder
    nnsight: pin(req, 'nnsight'),
  };
  for (const [name, v] of Object.entries(want)) {
    assert.ok(v, `${name}: no pin found`);
    assert.ok(readme.includes(`${name} ${v}`), `README should name ${name} ${v}`);
  }
});
