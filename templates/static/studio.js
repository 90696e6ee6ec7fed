/* Digit Dreams — the anagram studio ("Make your own" on the ambiguous page): choose a digit to read upright and one
   to read upside down, press Make, and the browser draws a digit that reads as both, with the build's denoiser and
   reader (onnxruntime-web, WASM, one thread, in onnxruntime-web's worker). No inline scripts or handlers.
   Needs static/ort-runtime.js (window.DigitRuntime) and the settings in #studio-settings (generator/pages/studio.py).

   The sampler is generator/engines/sampler.py's, step for step: Euler steps of dt = 1 / steps from noise at t = 0
   to t = 1; at each step every candidate's velocity is the mean of its guided velocity as the upright digit and,
   turned back, the guided velocity of the image turned 180° (its 784 values reversed) as the rotated digit.
   Guidance is v = v_uncond + w (v_cond - v_uncond), except that the last unguided_steps use the conditional
   velocity alone. One network call per step holds every row: the candidates, then the candidates turned, each as
   its digit, then (when guided) the same rows again as "no class" (label 10). The images are clamped to [0, 1] at
   the end, the reader reads each one upright and turned, and the candidate with the largest
   min(p(upright digit), p(rotated digit)) is the one shown.

   The seed decides everything: mulberry32(seed) gives 32-bit integers n, uniforms u = (n + 1) / 2^32 in (0, 1],
   and Box–Muller turns each pair (u1, u2) into sqrt(-2 ln u1) cos(2π u2) and sqrt(-2 ln u1) sin(2π u2): the
   candidates' starting noise, candidate after candidate, row-major, as float32.

   Automation / test API on window.digitDreams (merged into what is there):
     anagram(upright, rotated, seed)   -> Promise<Float32Array(784)>: sets the choosers and the seed, makes a digit
                                       as Make does (painting every step) and resolves to the chosen digit, row-major,
                                       ink 1.0 on 0.0: exactly what #studio-canvas ends on. Requests run one at a time.
     studio.ready                      Promise resolving to {loadMs, denoiserBytes} once both sessions exist; reading
                                       it starts loading them (as the panel does when it scrolls into view, or the
                                       first request)
     studio.noise(seed)                Float32Array(candidates * 784): the starting noise for a seed
     studio.shown                      the latest result: {upright, rotated, seed, image, chosen, scores, readings:
                                       {upright, rotated} (probabilities), ms}; null before the first
     studio.timings                    milliseconds of every finished digit
*/
(function () {
  "use strict";

  const { SIZE, loadSession, runInputs, run, softmax, argmax, createQueue, paint28, percent } = window.DigitRuntime;
  const source = document.getElementById("studio-settings");
  if (!source) return;
  const settings = JSON.parse(source.textContent);
  const PIXELS = SIZE * SIZE;
  const NO_CLASS = 10;

  /* ---------- Seeded noise ---------- */

  function mulberry32(seed) {
    let a = seed >>> 0;
    return function next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (t ^ (t >>> 14)) >>> 0;
    };
  }

  function noise(seed) {
    const next = mulberry32(seed);
    const uniform = () => (next() + 1) / 4294967296;
    const out = new Float32Array(settings.candidates * PIXELS);
    for (let k = 0; k < out.length; k += 2) {
      const radius = Math.sqrt(-2 * Math.log(uniform())), angle = 2 * Math.PI * uniform();
      out[k] = radius * Math.cos(angle);
      if (k + 1 < out.length) out[k + 1] = radius * Math.sin(angle);
    }
    return out;
  }

  /* ---------- The sampler ---------- */

  function turn(values, offset = 0) {
    return values.subarray(offset, offset + PIXELS).slice().reverse();
  }

  // Every candidate, then every candidate turned 180°: [2 * candidates * 784].
  function bothViews(x) {
    const count = settings.candidates;
    const out = new Float32Array(2 * count * PIXELS);
    out.set(x);
    for (let c = 0; c < count; c++) out.set(turn(x, c * PIXELS), (count + c) * PIXELS);
    return out;
  }

  // The network's rows for one step: both views, each as its digit, and (guided) both views again as "no class".
  function stepRows(x, upright, rotated, guided) {
    const count = settings.candidates, views = bothViews(x);
    const labels = [...new Array(count).fill(upright), ...new Array(count).fill(rotated)];
    if (!guided) return { images: views, labels, rows: 2 * count };
    const images = new Float32Array(2 * views.length);
    images.set(views);
    images.set(views, views.length);
    return { images, labels: [...labels, ...new Array(2 * count).fill(NO_CLASS)], rows: 4 * count };
  }

  // The anagram velocity of every candidate: guided per view, the turned view turned back, the two averaged.
  async function velocity(denoiser, x, t, w, upright, rotated) {
    const guided = w !== 1;
    const { images, labels, rows } = stepRows(x, upright, rotated, guided);
    const { data } = await runInputs(denoiser, {
      x: ["float32", images, [rows, 1, SIZE, SIZE]], t: ["float32", new Float32Array(rows).fill(t), [rows]],
      label: ["int64", labels, [rows]],
    });
    const views = 2 * settings.candidates, shift = views * PIXELS;
    const v = new Float32Array(settings.candidates * PIXELS);
    const view = (r, k) => {
      const cond = data[r * PIXELS + k];
      return guided ? data[shift + r * PIXELS + k] + w * (cond - data[shift + r * PIXELS + k]) : cond;
    };
    for (let c = 0; c < settings.candidates; c++) {
      for (let k = 0; k < PIXELS; k++) {
        v[c * PIXELS + k] = 0.5 * (view(c, k) + view(settings.candidates + c, PIXELS - 1 - k));
      }
    }
    return v;
  }

  // Euler from the seed's noise to t = 1; onStep(x, step) after every step. Returns the images clamped to [0, 1].
  async function denoise(denoiser, seed, upright, rotated, onStep) {
    const steps = settings.steps, dt = 1 / steps;
    let x = noise(seed);
    for (let step = 0; step < steps; step++) {
      const w = step >= steps - settings.unguided_steps ? 1 : settings.guidance;
      const v = await velocity(denoiser, x, step * dt, w, upright, rotated);
      x = x.map((value, k) => value + dt * v[k]);
      onStep(x, step + 1);
    }
    return x.map((value) => Math.min(Math.max(value, 0), 1));
  }

  // The reader's probabilities of every candidate upright and turned; the best by min(p(upright), p(rotated)).
  async function rank(reader, images, upright, rotated) {
    const count = settings.candidates;
    const { data } = await run(reader, bothViews(images), [2 * count, 1, SIZE, SIZE]);
    const probs = Array.from({ length: 2 * count }, (_, r) => softmax(data.subarray(10 * r, 10 * r + 10)));
    const scores = probs.slice(0, count).map((p, c) => Math.min(p[upright], probs[count + c][rotated]));
    const chosen = argmax(scores);
    return { chosen, scores, readings: { upright: probs[chosen], rotated: probs[count + chosen] } };
  }

  /* ---------- The page ---------- */

  const panel = document.getElementById("studio");
  const pick = { upright: document.getElementById("studio-upright"), rotated: document.getElementById("studio-rotated") };
  const seedInput = document.getElementById("studio-seed");
  const go = document.getElementById("studio-go");
  const canvas = document.getElementById("studio-canvas");
  const turnedCanvas = document.getElementById("studio-turned");
  const strip = Array.from(document.querySelectorAll(".studio-candidate"));
  const progress = document.getElementById("studio-progress");
  const status = document.getElementById("studio-status");
  const summary = document.getElementById("studio-summary");
  const tryLink = document.getElementById("studio-try");
  const readingPanels = { upright: document.getElementById("studio-reading-upright"), rotated: document.getElementById("studio-reading-rotated") };

  const api = {
    get ready() {
      return load().then(({ loadMs, denoiserBytes }) => ({ loadMs, denoiserBytes }));
    },
    noise, shown: null, timings: [],
  };
  window.digitDreams = Object.assign(window.digitDreams || {}, { anagram, studio: api });

  function setStatus(text, state) {
    status.textContent = text;
    status.dataset.state = state;
  }

  /* The models: both sessions, created once, on the first call (the panel in view, a request, or studio.ready). */
  let sessions = null;

  function load() {
    if (!sessions) {
      const began = performance.now();
      setStatus("Loading the denoiser and the reader…", "loading");
      sessions = Promise.all([loadSession(settings.denoiser), loadSession(settings.reader)]).then(([denoiser, reader]) => ({
        denoiser: denoiser.session, reader: reader.session, denoiserBytes: denoiser.modelBytes, loadMs: performance.now() - began,
      }));
      sessions.then(({ loadMs, denoiserBytes }) => {
        setStatus(`Denoiser (${(denoiserBytes / 1024).toFixed(0)} KB) and reader ready in ${Math.round(loadMs)} ms.`, "ready");
      }, (error) => setStatus(`The models could not be loaded: ${error.message}`, "error"));
    }
    return sessions;
  }

  function paintDigit(image) {
    paint28(canvas, image);
    paint28(turnedCanvas, turn(image));
  }

  function paintStep(x, step) {
    paintDigit(x.subarray(0, PIXELS));
    strip.forEach((item, c) => paint28(item.querySelector("canvas"), x.subarray(c * PIXELS, (c + 1) * PIXELS)));
    progress.value = step;
  }

  function showReading(name, probs, digit) {
    const section = readingPanels[name];
    const best = argmax(probs);
    section.querySelector(".big-digit").textContent = String(best);
    section.querySelectorAll(".bars li").forEach((row, d) => {
      row.querySelector(".bar-fill").style.transform = `scaleX(${probs[d]})`;
      row.querySelector(".bar-value").textContent = percent(probs[d]);
      row.classList.toggle("top", d === best);
      row.classList.toggle("wanted", d === digit);
    });
  }

  // try.html#pad=<base64url of 784 bytes, ink 255>: try.js loads it onto the pad.
  function padLink(image) {
    const bytes = String.fromCharCode(...Array.from(image, (v) => Math.round(v * 255)));
    return `try.html#pad=${btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
  }

  function showResult(result) {
    const { upright, rotated, image, chosen, scores, readings, ms } = result;
    paintDigit(image);
    strip.forEach((item, c) => {
      item.classList.toggle("chosen", c === chosen);
      item.querySelector("canvas").setAttribute("aria-label",
        `candidate ${c + 1}: the reader's weaker reading ${percent(scores[c])}${c === chosen ? ", the one shown" : ""}`);
    });
    showReading("upright", readings.upright, upright);
    showReading("rotated", readings.rotated, rotated);
    summary.textContent = `The reader reads it as ${argmax(readings.upright)} upright (${percent(readings.upright[upright])} sure it is a ${upright}) `
      + `and as ${argmax(readings.rotated)} upside down (${percent(readings.rotated[rotated])} sure it is a ${rotated}).`;
    tryLink.href = padLink(image);
    tryLink.hidden = false;
    setStatus(`Made in ${(ms / 1000).toFixed(1)} s: ${settings.candidates} candidates, ${settings.steps} steps, guidance ${settings.guidance}, seed ${result.seed}.`, "ready");
  }

  async function make(upright, rotated, seed) {
    const { denoiser, reader } = await load();
    setStatus(`Making a ${upright} that turns into a ${rotated}…`, "busy");
    const started = performance.now();
    const images = await denoise(denoiser, seed, upright, rotated, paintStep);
    const ranking = await rank(reader, images, upright, rotated);
    const image = images.slice(ranking.chosen * PIXELS, (ranking.chosen + 1) * PIXELS);
    const ms = performance.now() - started;
    api.timings.push(ms);
    api.shown = { upright, rotated, seed, image, ...ranking, ms };
    showResult(api.shown);
    return image;
  }

  const makes = createQueue();
  let busy = 0;

  function request(upright, rotated, seed) {
    busy++;
    panel.setAttribute("aria-busy", "true");
    const job = makes(() => {
      pick.upright.value = String(upright);
      pick.rotated.value = String(rotated);
      seedInput.value = String(seed);
      return make(upright, rotated, seed);
    });
    job.catch((error) => setStatus(`Could not make the digit: ${error.message}`, "error")).finally(() => {
      if (--busy === 0) panel.removeAttribute("aria-busy");
    });
    return job;
  }

  function anagram(upright, rotated, seed) {
    return request(Number(upright), Number(rotated), Number(seed) >>> 0);
  }

  function fromControls() {
    if (busy) return;
    request(Number(pick.upright.value), Number(pick.rotated.value), Number(seedInput.value) >>> 0).catch(() => undefined);
  }

  go.addEventListener("click", fromControls);
  document.getElementById("studio-surprise").addEventListener("click", () => {
    if (busy) return;
    seedInput.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
    fromControls();
  });

  new IntersectionObserver((entries, observer) => {
    if (!entries.some((entry) => entry.isIntersecting)) return;
    observer.disconnect();
    load().catch(() => undefined);
  }, { rootMargin: "200px" }).observe(panel);
})();
