/* Digit Dreams — Muddle explorer: pick two held-out digits, slide between their latent vectors, and watch the
   autoencoder's decoder draw the mix and the reader read it, live (onnxruntime-web, WASM, one thread, in a worker).
   No inline scripts or handlers: everything is wired up here. Needs static/ort-runtime.js (window.DigitRuntime).

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

  const { SIZE, loadSession, run, softmax, argmax, latest, paint28, percent } = window.DigitRuntime;
  const source = document.getElementById("muddle-latents");
  if (!source) return;
  const data = JSON.parse(source.textContent);
  const samples = data.samples;

  /* ---------- Models: two sessions, created once, eagerly; runs on the shared one-at-a-time queue ---------- */

  async function start() {
    const began = performance.now();
    const decoder = (await loadSession(data.decoder)).session;
    const reader = (await loadSession(data.reader)).session;
    return { decoder, reader, loadMs: performance.now() - began };
  }

  const sessions = start();
  const ready = sessions.then(({ loadMs }) => ({ loadMs }));

  const models = { decoder: sessions.then((m) => m.decoder), reader: sessions.then((m) => m.reader) };
  Object.values(models).forEach((session) => session.catch(() => undefined));   // failures are reported through ready

  // One model run at a time: its single output's data for a float32 input of the given shape.
  async function infer(which, values, shape) {
    return (await run(models[which], values, shape)).data;
  }

  async function decode(latent) {
    const z = Float32Array.from(latent);
    return Float32Array.from(await infer("decoder", z, [1, z.length]));
  }

  async function read(image) {
    return softmax(await infer("reader", Float32Array.from(image), [1, 1, SIZE, SIZE]));
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

  function mix(za, zb, t) {
    return Float32Array.from(za, (v, k) => (1 - t) * v + t * zb[k]);
  }

  api.latentAt = (t) => mix(chosen("a").latent, chosen("b").latent, t);

  function showReading(probs, a, b) {
    const best = argmax(probs);
    rows.forEach((row, d) => {
      row.querySelector(".bar-fill").style.transform = `scaleX(${probs[d]})`;
      row.querySelector(".bar-value").textContent = percent(probs[d], 1);
      row.classList.toggle("top", d === best);
      row.classList.toggle("end-a", d === a);
      row.classList.toggle("end-b", d === b);
    });
    const ends = a === b ? `${a}: ${percent(probs[a], 1)}` : `${a}: ${percent(probs[a], 1)} · ${b}: ${percent(probs[b], 1)}`;
    summary.textContent = `Reads as ${best} (${percent(probs[best], 1)}). ${ends}.`;
  }

  /* Rendering: at most one in flight; the latest slider position always gets drawn (positions that arrive
     meanwhile replace each other). */
  async function render({ t, a, b }) {
    try {
      mixValue.textContent = t.toFixed(2);
      const image = await decode(mix(a.latent, b.latent, t));
      const probs = await read(image);
      paint28(canvas, image);
      showReading(probs, a.label, b.label);
      api.shown = { a: a.id, b: b.id, t, image, probs };
    } catch (error) {
      status.textContent = `Could not decode: ${error.message}`;
      status.dataset.state = "error";
    }
  }

  const renders = latest(render);

  function requestRender() {
    renders.request({ t: Number(slider.value), a: chosen("a"), b: chosen("b") });
  }

  api.idle = () => renders.idle();      // also waits for the two ends being painted

  async function paintEnds() {
    for (const end of ["a", "b"]) {
      paint28(document.getElementById(`muddle-${end}-canvas`), await decode(chosen(end).latent));
    }
  }

  function refresh() {
    renders.hold(paintEnds().catch(() => undefined));
    requestRender();
  }

  slider.addEventListener("input", requestRender);
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
    status.textContent = `Decoder and reader ready in ${Math.round(loadMs)} ms (onnxruntime-web, WebAssembly in a worker, one thread).`;
    status.dataset.state = "ready";
    refresh();
  }, (error) => {
    status.textContent = `The models could not be loaded: ${error.message}`;
    status.dataset.state = "error";
  });
})();
