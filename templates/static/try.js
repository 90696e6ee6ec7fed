/* Digit Dreams — "Try it": draw a digit; the reader (onnxruntime-web, WASM, one thread, in a worker) reads it
   as drawn and rotated 180°, live. No inline scripts or handlers: everything is wired up here.
   Needs static/ort-runtime.js (window.DigitRuntime: session, run queue, scheduling, painting) and
   static/preprocess.js (window.DigitPreprocess: the MNIST-style preprocessing), loaded before it.

   Automation / test API on window.digitDreams:
     ready                 Promise resolving to {loadMs, readyAt, modelBytes, version} once the ONNX session
                           exists (loadMs: model fetch + WASM set-up + session creation; readyAt: since navigation)
     preprocess(source)    ImageData | canvas | image | {width, height, gray: 0..255 values}
                           -> Float32Array(784), MNIST-style (generator/preprocess.py::mnist_style)
     classify28(tensor)    Float32Array(784) -> Promise<{upright, rotated, ms}>, each reading
                           {digit, probs: number[10], logits: number[10]}
     rotate180(tensor)     the 28x28 tensor turned upside down
     idle()                Promise resolving once no pad reading is pending
     show(tensor)          paint a 28x28 tensor (0..1) onto the pad, enlarged, and read exactly that tensor
                           (until more is drawn on it: then the pad is read again)
     lastInput             the upright 28x28 tensor of the latest reading shown (null when none)

   A digit handed over in the address: try.html#pad=<base64url, unpadded, of 784 bytes: the 28x28 digit row-major,
   ink 255 on 0> is loaded onto the pad as show() does (the anagram studio's "Open it on the Try it pad" link).
*/
(function () {
  "use strict";

  const { SIZE, loadSession, version, run, softmax, argmax, latest, paint28, percent } = window.DigitRuntime;
  const { mnistStyle, lumaFromRGBA } = window.DigitPreprocess;
  const MODEL_URL = "models/reader.onnx";     // relative: works under a sub-path
  const PEN_WIDTH = 22;                       // in pad pixels (the pad is 280 x 280)
  const KEY_STEP = 10;

  /* ---------- MNIST-style preprocessing: static/preprocess.js, on any image source ---------- */

  function canvasFor(width, height) {
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    return canvas;
  }

  // Any supported source as {width, height, gray: Float64Array in [0, 1]} (step 1's scaling).
  function toGray(source) {
    if (source && source.gray !== undefined) {
      const { width, height } = source;
      const gray = Float64Array.from(source.gray, (v) => Math.min(Math.max(v, 0), 255) / 255);
      if (gray.length !== width * height) throw new Error("gray must hold width * height values");
      return { width, height, gray };
    }
    if (typeof ImageData !== "undefined" && source instanceof ImageData) {
      return { width: source.width, height: source.height, gray: lumaFromRGBA(source.data, source.width * source.height) };
    }
    if (source && typeof source.getContext === "function") {
      const data = source.getContext("2d").getImageData(0, 0, source.width, source.height);
      return toGray(data);
    }
    if (source && (source.naturalWidth || source.width)) {   // image, bitmap, video frame
      const width = source.naturalWidth || source.width, height = source.naturalHeight || source.height;
      const canvas = canvasFor(width, height);
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";                               // transparency composited on white
      ctx.fillRect(0, 0, width, height);
      ctx.drawImage(source, 0, 0);
      return toGray(ctx.getImageData(0, 0, width, height));
    }
    throw new Error("preprocess: unsupported source");
  }

  function preprocess(source, invert) {
    const { width, height, gray } = toGray(source);
    return mnistStyle(gray, width, height, invert);
  }

  function rotate180(tensor) {
    return Float32Array.from(tensor).reverse();
  }

  /* ---------- The reader: one session created eagerly, runs on the shared one-at-a-time queue ---------- */

  const timings = [];
  const loaded = loadSession(MODEL_URL);
  const session = loaded.then(({ session }) => session);
  session.catch(() => undefined);             // a failed load is reported through ready
  const ready = loaded.then(({ loadMs, readyAt, modelBytes }) => ({ loadMs, readyAt, modelBytes, version: version() }));

  function reading(logits) {
    const values = Array.from(logits);
    return { digit: argmax(values), probs: softmax(values), logits: values };
  }

  // Both readings in one run (batch of two): the tensor as drawn and turned upside down.
  async function classify28(tensor) {
    if (!tensor || tensor.length !== SIZE * SIZE) throw new Error("need 784 values");
    const batch = new Float32Array(2 * SIZE * SIZE);
    batch.set(tensor);
    batch.set(rotate180(tensor), SIZE * SIZE);
    const { data, ms } = await run(session, batch, [2, 1, SIZE, SIZE]);
    timings.push(ms);
    if (timings.length > 1000) timings.splice(0, timings.length - 1000);   // the latest thousand
    return { upright: reading(data.subarray(0, 10)), rotated: reading(data.subarray(10, 20)), ms };
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  const api = {
    ready, preprocess, classify28, rotate180, timings, lastInput: null,
    idle: () => Promise.resolve(), show: () => undefined,
  };
  window.digitDreams = api;

  /* ---------- The page ---------- */

  const pad = document.getElementById("pad");
  if (!pad) return;
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const status = document.getElementById("status");
  const latency = document.getElementById("latency");
  const summary = document.getElementById("summary");
  const cursor = document.getElementById("pad-cursor");
  const panels = {
    upright: document.getElementById("prediction-upright"),
    rotated: document.getElementById("prediction-rotated"),
  };

  function barRows(panel) {
    return Array.from(panel.querySelectorAll(".bars li"), (item) => ({
      item, fill: item.querySelector(".bar-fill"), value: item.querySelector(".bar-value"),
    }));
  }

  const bars = { upright: barRows(panels.upright), rotated: barRows(panels.rotated) };

  function drawInput(panel, tensor) {
    const preview = panel.querySelector(".reading-input");
    if (preview) paint28(preview, tensor);
  }

  function showReading(name, result, tensor) {
    const panel = panels[name];
    panel.dataset.digit = result ? String(result.digit) : "";
    panel.querySelector(".big-digit").textContent = result ? String(result.digit) : "–";
    bars[name].forEach((row, d) => {
      const p = result ? result.probs[d] : 0;
      row.fill.style.transform = `scaleX(${p})`;
      row.value.textContent = result ? percent(p) : "–";
      row.item.classList.toggle("top", Boolean(result) && d === result.digit);
    });
    drawInput(panel, tensor);
  }

  function describe(result) {
    if (!result) return "Draw a digit on the pad, or load one of the samples below.";
    const up = result.upright, down = result.rotated;
    const sure = `(${percent(up.probs[up.digit])} and ${percent(down.probs[down.digit])} sure)`;
    if (up.digit === down.digit) return `Reads as ${up.digit} both ways up ${sure}.`;
    return `Reads as ${up.digit} upright and ${down.digit} upside down ${sure}.`;
  }

  function clearReadings() {
    showReading("upright", null, null);
    showReading("rotated", null, null);
    summary.textContent = describe(null);
  }

  /* Reading the pad: at most one reading in flight, started on the next animation frame; the pad as it is
     then gets read, so the latest drawing always gets read and strokes made meanwhile make one reading. */
  let inked = false;
  let shown = null;             // a loaded 28x28 tensor, read as it is until someone draws on it
  const reads = latest(readPad, { defer: (start) => requestAnimationFrame(start) });

  function requestRead() {
    reads.request();
  }

  api.idle = () => reads.idle();

  async function readPad() {
    try {
      const tensor = shown || preprocess(pad, false);
      const empty = !tensor.some((v) => v !== 0);   // mnistStyle gives all zeros exactly when there is no ink
      if (empty || !inked) {
        api.lastInput = null;
        clearReadings();
      } else {
        const result = await classify28(tensor);
        if (inked) {                  // not cleared while the reader was busy
          api.lastInput = tensor;
          showReading("upright", result.upright, tensor);
          showReading("rotated", result.rotated, rotate180(tensor));
          summary.textContent = describe(result);
        } else {
          api.lastInput = null;
          clearReadings();
        }
        latency.textContent = `Last reading (both ways up): ${result.ms.toFixed(1)} ms; median ${median(timings).toFixed(1)} ms over ${timings.length}.`;
      }
    } catch (error) {
      status.textContent = `Could not read the drawing: ${error.message}`;
      status.classList.add("error");
    }
  }

  /* Drawing: pointer events cover mouse, touch and pen. */
  function resetPad() {
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
    ctx.strokeStyle = ctx.fillStyle = "#fff";
    ctx.lineWidth = PEN_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }

  function dot(x, y) {
    ctx.fillStyle = "#fff";
    ctx.beginPath();
    ctx.arc(x, y, PEN_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
    inked = true;
    shown = null;
  }

  function line(from, to) {
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    inked = true;
    shown = null;
  }

  function clear() {
    resetPad();
    inked = false;
    shown = null;
    clearReadings();
    requestRead();
  }

  function padPoint(event) {
    const rect = pad.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * pad.width / rect.width,
      y: (event.clientY - rect.top) * pad.height / rect.height,
    };
  }

  let last = null, activePointer = null;

  pad.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    if (activePointer !== null) return;     // one finger draws; ignore the rest
    event.preventDefault();
    activePointer = event.pointerId;
    pad.setPointerCapture(event.pointerId);
    last = padPoint(event);
    dot(last.x, last.y);
    requestRead();
  });

  pad.addEventListener("pointermove", (event) => {
    if (event.pointerId !== activePointer) return;
    event.preventDefault();
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const e of events.length ? events : [event]) {
      const point = padPoint(e);
      line(last, point);
      last = point;
    }
    requestRead();
  });

  function endStroke(event) {
    if (event.pointerId !== activePointer) return;
    activePointer = null;
    last = null;
    requestRead();
  }

  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);
  pad.addEventListener("lostpointercapture", endStroke);

  /* Keyboard: arrows move the pen, Space or Enter lowers/lifts it, Delete/Backspace/Escape clears. */
  const keyPen = { x: pad.width / 2, y: pad.height / 2, down: false };

  function placeCursor() {
    if (!cursor) return;
    cursor.style.left = `${(100 * keyPen.x) / pad.width}%`;
    cursor.style.top = `${(100 * keyPen.y) / pad.height}%`;
    cursor.classList.toggle("down", keyPen.down);
  }

  pad.addEventListener("keydown", (event) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const step = event.shiftKey ? KEY_STEP / 5 : KEY_STEP;
    if (event.key in moves) {
      const [dx, dy] = moves[event.key];
      const next = {
        x: Math.min(pad.width, Math.max(0, keyPen.x + dx * step)),
        y: Math.min(pad.height, Math.max(0, keyPen.y + dy * step)),
      };
      if (keyPen.down) line(keyPen, next);
      keyPen.x = next.x;
      keyPen.y = next.y;
      if (keyPen.down) requestRead();
    } else if (event.key === " " || event.key === "Enter") {
      keyPen.down = !keyPen.down;
      if (keyPen.down) {
        dot(keyPen.x, keyPen.y);
        requestRead();
      }
    } else if (event.key === "Delete" || event.key === "Backspace" || event.key === "Escape") {
      keyPen.down = false;
      clear();
    } else {
      return;
    }
    event.preventDefault();
    placeCursor();
  });

  pad.addEventListener("focus", placeCursor);

  /* Loading 28x28 digits onto the pad (samples and uploads), enlarged without smoothing. */
  function paintTensor(tensor) {
    resetPad();
    paint28(pad, tensor);
    inked = tensor.some((v) => v > 0);
    shown = inked ? Float32Array.from(tensor) : null;
    requestRead();
  }

  api.show = paintTensor;

  const sprites = new Map();

  function loadSprite(src) {
    if (!sprites.has(src)) {
      sprites.set(src, new Promise((resolve, reject) => {
        const image = new Image();
        image.addEventListener("load", () => resolve(image));
        image.addEventListener("error", () => reject(new Error(`cannot load ${src}`)));
        image.src = src;
      }));
    }
    return sprites.get(src);
  }

  async function loadSample(button) {
    try {
      const image = await loadSprite(button.dataset.sprite);
      const tile = canvasFor(SIZE, SIZE);
      const tctx = tile.getContext("2d");
      tctx.drawImage(image, Number(button.dataset.x), Number(button.dataset.y), SIZE, SIZE, 0, 0, SIZE, SIZE);
      const pixels = tctx.getImageData(0, 0, SIZE, SIZE).data;
      const tensor = new Float32Array(SIZE * SIZE);
      for (let i = 0; i < tensor.length; i++) tensor[i] = pixels[4 * i] / 255;
      paintTensor(tensor);
    } catch (error) {
      status.textContent = error.message;
    }
  }

  // idle() also waits for a sample or an upload being loaded.
  document.querySelectorAll(".try-sample").forEach((button) => {
    button.addEventListener("click", () => reads.hold(loadSample(button)));
  });

  const upload = document.getElementById("upload");

  async function loadUpload(file) {
    try {
      const bitmap = await createImageBitmap(file);
      const longest = Math.max(bitmap.width, bitmap.height);
      const scale = Math.min(1, 1024 / longest);        // plenty for a 20-pixel digit
      const width = Math.max(1, Math.round(bitmap.width * scale)), height = Math.max(1, Math.round(bitmap.height * scale));
      const canvas = canvasFor(width, height);
      const uctx = canvas.getContext("2d");
      uctx.fillStyle = "#fff";
      uctx.fillRect(0, 0, width, height);
      uctx.imageSmoothingQuality = "high";
      uctx.drawImage(bitmap, 0, 0, width, height);
      bitmap.close();
      paintTensor(preprocess(canvas));
      status.textContent = `Loaded ${file.name}: the pad shows the 28×28 image the reader sees.`;
    } catch (error) {
      status.textContent = `Could not read ${file.name} as an image.`;
    } finally {
      upload.value = "";
    }
  }

  if (upload) {
    upload.addEventListener("change", () => {
      const file = upload.files && upload.files[0];
      if (file) reads.hold(loadUpload(file));
    });
  }

  document.getElementById("clear").addEventListener("click", clear);

  function fragmentDigit() {
    const match = /^#pad=([A-Za-z0-9_-]+)$/.exec(location.hash);
    if (!match) return null;
    const bytes = atob(match[1].replace(/-/g, "+").replace(/_/g, "/"));
    return bytes.length === SIZE * SIZE ? Float32Array.from(bytes, (c) => c.charCodeAt(0) / 255) : null;
  }

  function loadFragment() {
    try {
      const tensor = fragmentDigit();
      if (tensor) paintTensor(tensor);
    } catch (error) {
      status.textContent = "The digit in the address could not be read.";
    }
  }

  window.addEventListener("hashchange", loadFragment);

  resetPad();
  clearReadings();
  placeCursor();
  loadFragment();
  status.textContent = "Loading the reader (onnxruntime-web, WebAssembly)…";
  status.dataset.state = "loading";
  ready.then(({ loadMs, modelBytes, version }) => {
    status.textContent = `Reader ready in ${Math.round(loadMs)} ms (${(modelBytes / 1024).toFixed(0)} KB model, onnxruntime-web ${version}, WebAssembly in a worker, one thread).`;
    status.dataset.state = "ready";
    if (inked) requestRead();
  }, (error) => {
    status.textContent = `The reader could not be loaded: ${error.message}`;
    status.dataset.state = "error";
    status.classList.add("error");
  });
})();
