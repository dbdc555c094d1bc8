// The page's models are declared once (web/src/models-page.js): the picker's radios and labels
// are built from the registry, the URL takes exactly its keys, and no size is written by hand
// in the page's sources (a hub model's comes from wasm/js/models.js, a bundled one's from the
// files.json web/build.sh writes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MODELS, fmtSize, modelLabel } from '../../web/src/models-page.js';
import { HUB_MODELS, MODEL_FILES, downloadBytes } from '../../wasm/js/models.js';
import { STRINGS, makeT } from '../../web/src/i18n.js';
import { stateFromParams } from '../../web/src/state.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const read = (p) => readFileSync(join(REPO, p), 'utf8');

// Just enough DOM for panels/model-info.js's picker: elements by id, created and placed.
function fakeDocument() {
  const byId = new Map();
  const made = [];
  const el = (tag) => {
    const e = { tag, children: [], text: '', append(...xs) { this.children.push(...xs); }, before(x) { made.push(x); } };
    Object.defineProperty(e, 'id', { get: () => e._id, set: (v) => { e._id = v; byId.set(v, e); } });
    Object.defineProperty(e, 'textContent', { get: () => e.text, set: (v) => { e.text = v; } });
    return e;
  };
  el('div').id = 'drop';
  return { made, document: { getElementById: (id) => byId.get(id) ?? null, createElement: el } };
}

test('the picker: one radio per registry entry, in its order, each labelled in English and Vietnamese', async () => {
  const { made, document } = fakeDocument();
  globalThis.document = document;
  try {
    const { mountModelPicker, updateModelLabels } = await import('../../web/src/panels/model-info.js');
    mountModelPicker();
    const radios = made.map((label) => label.children.find((c) => c.tag === 'input'));
    assert.deepEqual(radios.map((r) => r.value), Object.keys(MODELS));
    assert.ok(radios.every((r) => r.type === 'radio' && r.name === 'model'));
    for (const lang of ['en', 'vi']) {
      const bundled = { induction: { bytes: 3.2e6 } };
      updateModelLabels({ t: makeT(lang), st: { lang }, bundled, defaultName: 'HookLab-Circuits 12×192' });
      for (const [i, key] of Object.keys(MODELS).entries()) {
        const span = made[i].children.find((c) => c.tag === 'span');
        assert.equal(span.id, `model-${key}-label`);
        assert.ok(span.textContent && !/[{}]/.test(span.textContent), `${key} (${lang}): "${span.textContent}"`);
        if (MODELS[key].kind === 'hub') assert.ok(span.textContent.includes(fmtSize(downloadBytes(MODELS[key]), lang)), span.textContent);
      }
    }
  } finally {
    delete globalThis.document;
  }
});

test('no radio of the picker is written in index.html, which leaves them to mountModelPicker', () => {
  const html = read('web/index.html');
  assert.doesNotMatch(html, /name=["']?model\b/);
  assert.match(read('web/src/main.js'), /mountModelPicker\(\)/);
});

test('the labels: every entry\'s strings exist in English and Vietnamese, and no picker string lacks an entry', () => {
  const labels = new Set(Object.values(MODELS).flatMap((m) => [m.label, m.labelNoSize].filter(Boolean)));
  for (const lang of ['en', 'vi']) for (const k of labels) assert.ok(STRINGS[lang][k], `${lang}.${k}`);
  // The i18n keys model…: the picker's labels, the panel's legend and the model card's link.
  const pickerKeys = Object.keys(STRINGS.en).filter((k) => /^model[A-Z]/.test(k) && k !== 'modelCard');
  assert.deepEqual(pickerKeys.sort(), [...labels].sort(), 'a model… string that no registry entry uses, or the reverse');
});

test('the URL takes exactly the registry\'s models; the README lists them', () => {
  for (const key of Object.keys(MODELS)) assert.equal(stateFromParams(new URLSearchParams({ model: key })).model, key);
  const refused = [];
  stateFromParams(new URLSearchParams({ model: 'gpt2-large' }), 'en', refused);
  assert.deepEqual(refused.map((r) => r.key), ['model']);
  const readme = /\?model=([\w|-]+)/.exec(read('web/README.md'))[1].split('|');
  assert.deepEqual(readme, Object.keys(MODELS));
});

test('sizes are read: a hub entry has each file\'s size, a bundled one is served from models/KEY/', () => {
  for (const [key, m] of Object.entries(MODELS)) {
    if (m.kind === 'hub') {
      assert.deepEqual(Object.keys(m.files).sort(), [...MODEL_FILES].sort(), key);
      assert.equal(m.files['model.safetensors'], m.bytes);
      assert.equal(m.repo, HUB_MODELS[key].repo);
    }
    if (m.kind === 'bundled') assert.equal(m.base, `models/${key}/`);
  }
  assert.equal(fmtSize(downloadBytes(HUB_MODELS.gpt2), 'en'), '550 MB');
  assert.equal(fmtSize(downloadBytes(HUB_MODELS['gpt2-medium']), 'vi'), '1,5 GB');
  assert.equal(modelLabel(makeT('en'), 'en', 'induction', { name: 'X' }), 'X (lesson model)');
});

// (A limit of the engine's, such as WebAssembly's 4 GiB of memory, is not a model's size.)
test('no size is written by hand in the page\'s sources (web/src, index.html) outside the registry', () => {
  const files = [];
  const walk = (dir) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(js|mjs|html|css|md)$/.test(f) && f !== 'models-page.js') files.push(p);
    }
  };
  walk(join(REPO, 'web/src'));
  files.push(join(REPO, 'web/index.html'));
  const hits = [];
  for (const p of files) {
    readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
      if (/\d+(?:[.,]\d+)?\s?(?:[kKMGT]B)\b/.test(line)) hits.push(`${relative(REPO, p)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, [], 'a size belongs in the registry (wasm/js/models.js) or a files.json, not in a string');
});
