/* Digit Dreams — "Try it": draw a digit; the reader (onnxruntime-web, WASM, one thread) reads it
   as drawn and rotated 180°, live. No inline scripts or handlers: everything is wired up here.

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
*/
(function () {
  "use strict";

  const SIZE = 28;
  const BOX = 20;
  const INK_THRESHOLD = 0.05;
  const TIE = 1e-6;
  const MODEL_URL = "models/reader.onnx";     // relative: works under a sub-path
  const PEN_WIDTH = 22;                       // in pad pixels (the pad is 280 x 280)
  const KEY_STEP = 10;

  /* ---------- MNIST-style preprocessing: generator/preprocess.py, step for step ----------
     Float64 arithmetic throughout, like NumPy; only summation order differs (~1e-16). */

  // Pillow's "L" conversion (ITU-R 601-2 luma, fixed point), after compositing on white.
  function lumaFromRGBA(rgba, count) {
    const gray = new Float64Array(count);
    for (let i = 0, j = 0; i < count; i++, j += 4) {
      let r = rgba[j], g = rgba[j + 1], b = rgba[j + 2];
      const a = rgba[j + 3];
      if (a !== 255) {
        r = Math.round((r * a + 255 * (255 - a)) / 255);
        g = Math.round((g * a + 255 * (255 - a)) / 255);
        b = Math.round((b * a + 255 * (255 - a)) / 255);
      }
      gray[i] = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) / 255;
    }
    return gray;
  }

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

  function borderMean(image, width, height) {
    let sum = 0, count = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (y === 0 || y === height - 1 || x === 0 || x === width - 1) {
          sum += image[y * width + x];
          count++;
        }
      }
    }
    return sum / count;
  }

  // Row i: each input pixel's coverage of output pixel i (Python's _area_weights), as sparse runs.
  function areaWeights(nIn, nOut) {
    const scale = nIn / nOut;
    const rows = [];
    for (let i = 0; i < nOut; i++) {
      const start = i * scale;
      const first = Math.max(0, Math.floor(start) - 1), last = Math.min(nIn - 1, Math.ceil(start + scale));
      const index = [], weight = [];
      for (let p = first; p <= last; p++) {
        const overlap = Math.min(start + scale, p + 1) - Math.max(start, p);
        if (overlap > 0) {
          index.push(p);
          weight.push(overlap / scale);
        }
      }
      rows.push({ index, weight });
    }
    return rows;
  }

  // Returns {tensor: Float32Array(784), empty: boolean}.
  function mnistStyle(source, invert) {
    const { width, height, gray } = toGray(source);
    let image = gray;
    if (invert === undefined || invert === null) invert = borderMean(image, width, height) > 0.5;
    if (invert) image = image.map((v) => 1 - v);
    const canvas = new Float32Array(SIZE * SIZE);
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (image[y * width + x] >= INK_THRESHOLD) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (bottom < 0) return { tensor: canvas, empty: true };
    const cropH = bottom - top + 1, cropW = right - left + 1;
    const longer = Math.max(cropH, cropW);
    const newH = Math.max(1, Math.floor(cropH * BOX / longer + 0.5));
    const newW = Math.max(1, Math.floor(cropW * BOX / longer + 0.5));
    // Rows first (Wh @ crop), then columns ((...) @ Ww.T), as in Python.
    const wh = areaWeights(cropH, newH), ww = areaWeights(cropW, newW);
    const tall = new Float64Array(newH * cropW);
    for (let i = 0; i < newH; i++) {
      const { index, weight } = wh[i];
      for (let k = 0; k < index.length; k++) {
        const src = (top + index[k]) * width + left, w = weight[k];
        for (let x = 0; x < cropW; x++) tall[i * cropW + x] += w * image[src + x];
      }
    }
    const small = new Float64Array(newH * newW);
    for (let i = 0; i < newH; i++) {
      for (let j = 0; j < newW; j++) {
        const { index, weight } = ww[j];
        let sum = 0;
        for (let k = 0; k < index.length; k++) sum += tall[i * cropW + index[k]] * weight[k];
        small[i * newW + j] = sum;
      }
    }
    // Centre of mass in pixel-index coordinates, pasted at floor(14 - c + 0.5).
    let total = 0, rowMoment = 0, colMoment = 0;
    const rowSums = new Float64Array(newH), colSums = new Float64Array(newW);
    for (let i = 0; i < newH; i++) {
      for (let j = 0; j < newW; j++) {
        const v = small[i * newW + j];
        total += v;
        rowSums[i] += v;
        colSums[j] += v;
      }
    }
    for (let i = 0; i < newH; i++) rowMoment += i * rowSums[i];
    for (let j = 0; j < newW; j++) colMoment += j * colSums[j];
    const cy = rowMoment / total, cx = colMoment / total;
    // floor(x + 0.5), less TIE: a straight stroke's centre lies exactly on a half pixel, and summation-order
    // noise (NumPy's pairwise sums and BLAS, JS's plain loops) must not decide which way it rounds.
    const offY = Math.floor(SIZE / 2 - cy + 0.5 - TIE), offX = Math.floor(SIZE / 2 - cx + 0.5 - TIE);
    for (let i = 0; i < newH; i++) {
      const y = offY + i;
      if (y < 0 || y >= SIZE) continue;
      for (let j = 0; j < newW; j++) {
        const x = offX + j;
        if (x >= 0 && x < SIZE) canvas[y * SIZE + x] = small[i * newW + j];
      }
    }
    return { tensor: canvas, empty: false };
  }

  function preprocess(source, invert) {
    return mnistStyle(source, invert).tensor;
  }

  function rotate180(tensor) {
    return Float32Array.from(tensor).reverse();
  }

  /* ---------- The reader: onnxruntime-web, WASM, one thread, one session created eagerly ---------- */

  const timings = [];
  let session = null;

  async function createSession() {
    if (typeof ort === "undefined") throw new Error("onnxruntime-web did not load");
    ort.env.wasm.numThreads = 1;         // GitHub Pages is not cross-origin isolated
    const started = performance.now();
    const response = await fetch(MODEL_URL);
    if (!response.ok) throw new Error(`${MODEL_URL}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const readyAt = performance.now();
    return { loadMs: readyAt - started, readyAt, modelBytes: bytes.length, version: ort.env.versions.web };
  }

  const ready = createSession();

  function softmax(logits) {
    const max = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / sum);
  }

  function reading(logits) {
    const values = Array.from(logits);
    const probs = softmax(values);
    let digit = 0;
    for (let d = 1; d < probs.length; d++) if (values[d] > values[digit]) digit = d;
    return { digit, probs, logits: values };
  }

  let queue = Promise.resolve();

  // Both readings in one run (batch of two): the tensor as drawn and turned upside down.
  function classify28(tensor) {
    if (!tensor || tensor.length !== SIZE * SIZE) return Promise.reject(new Error("need 784 values"));
    const job = queue.then(async () => {
      await ready;
      const batch = new Float32Array(2 * SIZE * SIZE);
      batch.set(tensor);
      batch.set(rotate180(tensor), SIZE * SIZE);
      const input = new ort.Tensor("float32", batch, [2, 1, SIZE, SIZE]);
      const started = performance.now();
      const outputs = await session.run({ [session.inputNames[0]]: input });
      const ms = performance.now() - started;
      timings.push(ms);
      if (timings.length > 1000) timings.splice(0, timings.length - 1000);   // the latest thousand
      const logits = outputs[session.outputNames[0]].data;
      return { upright: reading(logits.subarray(0, 10)), rotated: reading(logits.subarray(10, 20)), ms };
    });
    queue = job.catch(() => undefined);
    return job;
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

  function buildBars(panel) {
    const list = panel.querySelector(".bars");
    const rows = [];
    for (let d = 0; d < 10; d++) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.className = "bar-label";
      label.textContent = String(d);
      const track = document.createElement("span");
      track.className = "bar";
      track.setAttribute("aria-hidden", "true");
      const fill = document.createElement("span");
      fill.className = "bar-fill";
      track.append(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = "–";
      item.append(label, track, value);
      list.append(item);
      rows.push({ item, fill, value });
    }
    return rows;
  }

  const bars = { upright: buildBars(panels.upright), rotated: buildBars(panels.rotated) };

  function percent(p) {
    return p >= 0.995 ? "100%" : p < 0.005 ? "0%" : `${Math.round(p * 100)}%`;
  }

  function drawInput(panel, tensor) {
    const preview = panel.querySelector(".reading-input");
    if (!preview) return;
    const pctx = preview.getContext("2d");
    const data = pctx.createImageData(SIZE, SIZE);
    for (let i = 0; i < SIZE * SIZE; i++) {
      const v = Math.round((tensor ? tensor[i] : 0) * 255);
      data.data[4 * i] = data.data[4 * i + 1] = data.data[4 * i + 2] = v;
      data.data[4 * i + 3] = 255;
    }
    pctx.putImageData(data, 0, 0);
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

  /* Reading the pad: at most one reading in flight; the latest drawing always gets read. */
  let scheduled = false, busy = false, dirty = false, inked = false, loading = 0;
  let shown = null;             // a loaded 28x28 tensor, read as it is until someone draws on it
  let idleWaiters = [];

  function settle() {
    if (!scheduled && !busy && !loading) {
      idleWaiters.forEach((resolve) => resolve());
      idleWaiters = [];
    }
  }

  api.idle = () => new Promise((resolve) => {
    idleWaiters.push(resolve);
    settle();
  });

  function requestRead() {
    if (busy) {
      dirty = true;
      return;
    }
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(readPad);
  }

  async function readPad() {
    scheduled = false;
    busy = true;
    dirty = false;
    try {
      const { tensor, empty } = shown ? { tensor: shown, empty: false } : mnistStyle(pad, false);
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
    } finally {
      busy = false;
      if (dirty) requestRead();
      settle();
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
    const scale = pad.width / SIZE;
    const data = ctx.createImageData(pad.width, pad.height);
    for (let y = 0; y < pad.height; y++) {
      for (let x = 0; x < pad.width; x++) {
        const v = Math.round(tensor[Math.floor(y / scale) * SIZE + Math.floor(x / scale)] * 255);
        const k = 4 * (y * pad.width + x);
        data.data[k] = data.data[k + 1] = data.data[k + 2] = v;
        data.data[k + 3] = 255;
      }
    }
    resetPad();
    ctx.putImageData(data, 0, 0);
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

  document.querySelectorAll(".try-sample").forEach((button) => {
    button.addEventListener("click", async () => {
      loading++;
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
      } finally {
        loading--;
        settle();
      }
    });
  });

  const upload = document.getElementById("upload");
  if (upload) {
    upload.addEventListener("change", async () => {
      const file = upload.files && upload.files[0];
      if (!file) return;
      loading++;
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
        loading--;
        settle();
      }
    });
  }

  document.getElementById("clear").addEventListener("click", clear);

  resetPad();
  clearReadings();
  placeCursor();
  status.textContent = "Loading the reader (onnxruntime-web, WebAssembly)…";
  status.dataset.state = "loading";
  ready.then(({ loadMs, modelBytes, version }) => {
    status.textContent = `Reader ready in ${Math.round(loadMs)} ms (${(modelBytes / 1024).toFixed(0)} KB model, onnxruntime-web ${version}, WebAssembly, one thread).`;
    status.dataset.state = "ready";
    if (inked) requestRead();
  }, (error) => {
    status.textContent = `The reader could not be loaded: ${error.message}`;
    status.dataset.state = "error";
    status.classList.add("error");
  });
})();
