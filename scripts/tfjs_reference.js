// Computes reference outputs of a TF.js graph model with TensorFlow.js
// itself (its CPU backend under Node.js), for tfjs/reference_test.go to
// compare Lookalike's import against. Run by scripts/tfjs_reference.sh.
//
//   node tfjs_reference.js MODEL.min.js NODE INPUTS > out.json
//
// The model is read as npm packages ship it (model.min.js plus
// group*.min.js shards holding base64). INPUTS test images are made by the
// formula below, which the Go test repeats.
const tf = require('@tensorflow/tfjs');
const path = require('path');

const [, , modelPath, node, count] = process.argv;

// pattern is image k of the test set: 224x224x3 values in [0, 1].
function pattern(k) {
  const x = new Float32Array(224 * 224 * 3);
  for (let y = 0; y < 224; y++)
    for (let i = 0; i < 224; i++)
      for (let c = 0; c < 3; c++)
        x[(y * 224 + i) * 3 + c] = ((y * 7 + i * 13 + c * 29 + k * 101 + ((y * i) >> 4)) % 256) / 255;
  return x;
}

async function main() {
  await tf.setBackend('cpu');
  const dir = path.dirname(modelPath);
  const model = require(path.resolve(modelPath));
  const specs = [];
  const buffers = [];
  for (const g of model.weightsManifest) {
    for (const p of g.paths) buffers.push(Buffer.from(require(path.resolve(dir, p + '.min.js')), 'base64'));
    specs.push(...g.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.length);
  const gm = await tf.loadGraphModel({
    load: async () => ({ modelTopology: model.modelTopology, weightSpecs: specs, weightData, format: model.format }),
  });
  const outputs = [];
  for (let k = 0; k < Number(count); k++) {
    const out = gm.execute(tf.tensor(pattern(k), [1, 224, 224, 3]), node);
    outputs.push(Array.from(await out.data()));
  }
  process.stdout.write(JSON.stringify({ tfjs: tf.version.tfjs, node, outputs }));
}

main().catch((e) => { console.error(e); process.exit(1); });
