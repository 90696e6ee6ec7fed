/* Digit Dreams — Muddle explorer: pick two held-out digits, slide between their latent vectors, and watch the
   autoencoder's decoder draw the mix and the reader read it, live (onnxruntime-web, WASM, one thread).
   No inline scripts or handlers: everything is wired up here.

   Automation / test API on window.muddle:
     ready            Promise resolving to {loadMs} once the decoder and reader sessions exist
     samples          the shipped latent sample (#muddle-latents): [{id, label, index, latent: number[10]}]
     decode(latent)   number[10] | Float32Array(10) -> Promise<Float32Array(784)>, pixels in [0, 1]
     read(image)      Float32Array(784) -> Promise<number[10]>, the reader's probabilities
     latentAt(t)      the latent (1 - t) a + t b of the chosen pair, as a Float32Array
     idle()           Promise resolving once the latest slider position is drawn and read
     shown            {a, b, t, image: Float32Array(784), probs: number[10]} of what #muddle-canvas shows (null before)
*/
(function () {
  "use strict";

  const SIZE = 28;
  const source = document.getElementById("muddle-latents");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const samples = data.samples;

  /* ---------- Models: two sessions, created once, eagerly; runs queued one after another ---------- */

  async function load(url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const model = new Uint8Array(await response.arrayBuffer());
    return ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
  }

  async function start() {
    if (typeof ort === "undefined") throw new Error("onnxruntime-web did not load");
    ort.env.wasm.numThreads = 1;         // GitHub Pages is not cross-origin isolated; wasmPaths left unset
    const began = performance.now();
    const decoder = await load(data.decoder);
    const reader = await load(data.reader);
    return { decoder, reader, loadMs: performance.now() - began };
  }

  const sessions = start();
  const ready = sessions.then(({ loadMs }) => ({ loadMs }));
  let chain = Promise.resolve();

  // One model run at a time: its single output's data for a float32 input of the given shape.
  function infer(which, values, shape) {
    const result = chain.then(async () => {
      const models = await sessions;
      const session = models[which];
      const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", values, shape) };
      const output = await session.run(feeds);
      return output[session.outputNames[0]].data;
    });
    chain = result.catch(() => undefined);
    return result;
  }

  async function decode(latent) {
    const z = Float32Array.from(latent);
    return Float32Array.from(await infer("decoder", z, [1, z.length]));
  }

  async function read(image) {
    const logits = Array.from(await infer("reader", Float32Array.from(image), [1, 1, SIZE, SIZE]));
    const top = Math.max(...logits);
    const weights = logits.map((v) => Math.exp(v - top));
    const total = weights.reduce((sum, w) => sum + w, 0);
    return weights.map((w) => w / total);
  }

  /* ---------- The page ---------- */

  const pick = { a: document.getElementById("muddle-a"), b: document.getElementById("muddle-b") };
  const slider = document.getElementById("mix");
  const mixValue = document.getElementById("mix-value");
  const canvas = document.getElementById("muddle-canvas");
  const summary = document.getElementById("muddle-summary");
  const status = document.getElementById("muddle-status");
  const rows = Array.from(document.querySelectorAll(".muddle-reading .bars li"));

  const api = { ready, samples, decode, read, shown: null };
  window.muddle = api;

  function chosen(end) {
    return samples[Number(pick[end].value)];
  }

  api.latentAt = (t) => {
    const za = chosen("a").latent, zb = chosen("b").latent;
    return Float32Array.from(za, (v, k) => (1 - t) * v + t * zb[k]);
  };

  // A 28x28 image (values 0..1) onto a 28x28 canvas; CSS enlarges it without smoothing.
  function paint(target, image) {
    const context = target.getContext("2d");
    const frame = context.createImageData(SIZE, SIZE);
    const words = new Uint32Array(frame.data.buffer);       // RGBA bytes as little-endian 0xAABBGGRR
    image.forEach((v, k) => {
      const grey = Math.round(Math.min(Math.max(v, 0), 1) * 255);
      words[k] = (0xff000000 | (grey << 16) | (grey << 8) | grey) >>> 0;
    });
    context.putImageData(frame, 0, 0);
  }

  function percent(p) {
    return `${(100 * p).toFixed(p >= 0.995 || p < 0.005 ? 0 : 1)}%`;
  }

  function showReading(probs, a, b) {
    let best = 0;
    probs.forEach((p, d) => { if (p > probs[best]) best = d; });
    rows.forEach((row, d) => {
      row.querySelector(".bar-fill").style.transform = `scaleX(${probs[d]})`;
      row.querySelector(".bar-value").textContent = percent(probs[d]);
      row.classList.toggle("top", d === best);
      row.classList.toggle("end-a", d === a);
      row.classList.toggle("end-b", d === b);
    });
    const ends = a === b ? `${a}: ${percent(probs[a])}` : `${a}: ${percent(probs[a])} · ${b}: ${percent(probs[b])}`;
    summary.textContent = `Reads as ${best} (${percent(probs[best])}). ${ends}.`;
  }

  /* Rendering: at most one in flight; the latest slider position always gets drawn. */
  let busy = false, again = false, painting = 0, waiting = [];

  function settle() {
    if (busy || again || painting) return;
    waiting.forEach((resolve) => resolve());
    waiting = [];
  }

  api.idle = () => new Promise((resolve) => {
    waiting.push(resolve);
    settle();
  });

  async function render() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    again = false;
    try {
      const t = Number(slider.value);
      const a = chosen("a"), b = chosen("b");
      mixValue.textContent = t.toFixed(2);
      const image = await decode(api.latentAt(t));
      const probs = await read(image);
      paint(canvas, image);
      showReading(probs, a.label, b.label);
      api.shown = { a: a.id, b: b.id, t, image, probs };
    } catch (error) {
      status.textContent = `Could not decode: ${error.message}`;
      status.dataset.state = "error";
    } finally {
      busy = false;
      if (again) render();
      settle();
    }
  }

  async function paintEnds() {
    painting++;
    try {
      for (const end of ["a", "b"]) {
        paint(document.getElementById(`muddle-${end}-canvas`), await decode(chosen(end).latent));
      }
    } finally {
      painting--;
      settle();
    }
  }

  function refresh() {
    paintEnds().catch(() => undefined);
    render();
  }

  slider.addEventListener("input", render);
  pick.a.addEventListener("change", refresh);
  pick.b.addEventListener("change", refresh);

  document.getElementById("muddle-swap").addEventListener("click", () => {
    [pick.a.value, pick.b.value] = [pick.b.value, pick.a.value];
    refresh();
  });

  document.getElementById("muddle-random").addEventListener("click", () => {
    const first = Math.floor(Math.random() * samples.length);
    const others = samples.map((_, n) => n).filter((n) => samples[n].label !== samples[first].label);
    pick.a.value = String(first);
    pick.b.value = String(others[Math.floor(Math.random() * others.length)]);
    refresh();
  });

  ready.then(({ loadMs }) => {
    status.textContent = `Decoder and reader ready in ${Math.round(loadMs)} ms (onnxruntime-web, WebAssembly, one thread).`;
    status.dataset.state = "ready";
    refresh();
  }, (error) => {
    status.textContent = `The models could not be loaded: ${error.message}`;
    status.dataset.state = "error";
  });
})();
