/* Digit Dreams — the browser runtime shared by the pages that run models (Try it, Muddle, the anagram studio).
   A plain script (load it with defer after vendor/ort.wasm.min.js and before the page script); it touches the
   global `ort` only when a session is created. Everything is on window.DigitRuntime:

     SIZE                          28
     loadSession(url)              Promise<{session, modelBytes, loadMs, readyAt}>: fetch an ONNX file (relative URL)
                                   and create an onnxruntime-web session: WebAssembly only, one thread
                                   (GitHub Pages is not cross-origin isolated), ort.env.wasm.wasmPaths left unset,
                                   in onnxruntime-web's proxy worker (ort.env.wasm.proxy): the WebAssembly compiles
                                   and runs off the main thread, so the page never stalls on it. The worker is
                                   vendor/ort.wasm.min.js itself, loaded from the site (CSP worker-src 'self').
     version()                     the onnxruntime-web version string
     createQueue()                 a new queue: enqueue(task) runs task() once every earlier task has settled,
                                   -> Promise of task's result (a failed task does not stop the queue)
     enqueue(task)                 the page's one queue: one inference at a time
     run(session, values, shape)   on that queue: one float32 input (values, shape) through session (or a promise of
                                   one) -> Promise<{data, ms}>: the first output's data and the run's milliseconds;
                                   values are copied (the proxy transfers the input buffer to its worker)
     runInputs(session, inputs)    on that queue, for models with several named inputs: inputs is
                                   {name: [type, values, shape]}, type "float32" or "int64" (numbers or BigInts; sent
                                   as a BigInt64Array) -> Promise<{data, ms}> as run; values are copied the same way
     softmax(logits)               number[] of probabilities (max-shifted, float64)
     argmax(values)                index of the first largest value
     latest(work, options)         latest-input scheduler: {request(input), hold(promise), idle(), busy}; see below
     paint28(canvas, tensor)       a 28x28 tensor (values 0..1, clamped; null: black) onto a canvas of any size,
                                   nearest neighbour: each tensor pixel fills a (width/28) x (height/28) block
     percent(p, digits = 0)        "100%" from 0.995, "0%" below 0.005, else 100 p to `digits` decimals and "%"
*/
(function () {
  "use strict";

  const SIZE = 28;

  /* ---------- Sessions ---------- */

  function configure() {
    if (typeof ort === "undefined") throw new Error("onnxruntime-web did not load");
    ort.env.wasm.numThreads = 1;         // GitHub Pages is not cross-origin isolated; wasmPaths left unset
    ort.env.wasm.proxy = true;           // WebAssembly compiled and run in onnxruntime-web's own worker
  }

  async function loadSession(url) {
    configure();
    const started = performance.now();
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const modelBytes = bytes.length;     // read first: the proxy transfers the buffer to its worker
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    const readyAt = performance.now();
    return { session, modelBytes, loadMs: readyAt - started, readyAt };
  }

  function version() {
    return typeof ort === "undefined" ? null : ort.env.versions.web;
  }

  /* ---------- One run at a time ---------- */

  function createQueue() {
    let tail = Promise.resolve();
    return function enqueue(task) {
      const job = tail.then(() => task());
      tail = job.catch(() => undefined);
      return job;
    };
  }

  const enqueue = createQueue();

  // A copy: the proxy transfers the input's buffer to its worker, and the caller may still need the values.
  function tensor(type, values, shape) {
    const data = type === "int64" ? BigInt64Array.from(values, (v) => BigInt(v)) : Float32Array.from(values);
    return new ort.Tensor(type, data, shape);
  }

  // feedsOf(model) -> the feeds; the first output's data and the run's milliseconds.
  function timedRun(session, feedsOf) {
    return enqueue(async () => {
      const model = await session;
      const feeds = feedsOf(model);
      const started = performance.now();
      const outputs = await model.run(feeds);
      const ms = performance.now() - started;
      return { data: outputs[model.outputNames[0]].data, ms };
    });
  }

  function run(session, values, shape) {
    return timedRun(session, (model) => ({ [model.inputNames[0]]: tensor("float32", values, shape) }));
  }

  function runInputs(session, inputs) {
    return timedRun(session, () => Object.fromEntries(
      Object.entries(inputs).map(([name, [type, values, shape]]) => [name, tensor(type, values, shape)])));
  }

  /* ---------- Numbers ---------- */

  function softmax(logits) {
    const values = Array.from(logits);
    const max = Math.max(...values);
    const exps = values.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / sum);
  }

  function argmax(values) {
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    return best;
  }

  function percent(p, digits = 0) {
    return p >= 0.995 ? "100%" : p < 0.005 ? "0%" : `${(100 * p).toFixed(digits)}%`;
  }

  /* ---------- Latest-input scheduling ----------
     latest(work, {defer, onError}) -> scheduler. request(input) asks for work(input); at most one work runs at a
     time, and inputs that arrive while one runs replace each other: when it ends only the newest is run next.
     defer(start) decides when a requested run starts (default: at once; the pad uses requestAnimationFrame, so
     one frame's pointer events make one reading). hold(promise) keeps idle() waiting until the promise settles
     (a sample being loaded). idle() resolves once nothing is requested, running or held. busy: a run in flight.
     A work that throws is reported to onError (default: console.error); the scheduler carries on. */

  function latest(work, options = {}) {
    const defer = options.defer || ((start) => start());
    const onError = options.onError || ((error) => console.error(error));
    let running = false, pending = false, deferred = false, input, holds = 0, waiters = [];

    function settle() {
      if (running || pending || deferred || holds) return;
      const ready = waiters;
      waiters = [];
      ready.forEach((resolve) => resolve());
    }

    function schedule() {
      if (running || deferred || !pending) return;
      deferred = true;
      defer(start);
    }

    function start() {
      deferred = false;
      if (running || !pending) {
        settle();
        return;
      }
      const next = input;
      pending = false;
      input = undefined;
      running = true;
      Promise.resolve()
        .then(() => work(next))
        .catch(onError)
        .finally(() => {
          running = false;
          schedule();
          settle();
        });
    }

    return {
      request(value) {
        input = value;
        pending = true;
        schedule();
      },
      hold(promise) {
        holds++;
        const release = () => {
          holds--;
          settle();
        };
        Promise.resolve(promise).then(release, release);
        return promise;
      },
      idle() {
        return new Promise((resolve) => {
          waiters.push(resolve);
          settle();
        });
      },
      get busy() {
        return running;
      },
    };
  }

  /* ---------- The 28x28 painter ---------- */

  function paint28(canvas, tensor) {
    const context = canvas.getContext("2d");
    const { width, height } = canvas;
    const scaleX = width / SIZE, scaleY = height / SIZE;
    const frame = context.createImageData(width, height);
    const data = frame.data;
    for (let y = 0; y < height; y++) {
      const row = Math.floor(y / scaleY) * SIZE;
      for (let x = 0; x < width; x++) {
        const v = tensor ? tensor[row + Math.floor(x / scaleX)] : 0;
        const grey = Math.round(Math.min(Math.max(v, 0), 1) * 255);
        const k = 4 * (y * width + x);
        data[k] = data[k + 1] = data[k + 2] = grey;
        data[k + 3] = 255;
      }
    }
    context.putImageData(frame, 0, 0);
  }

  window.DigitRuntime = Object.freeze({
    SIZE, loadSession, version, createQueue, enqueue, run, runInputs, softmax, argmax, latest, paint28, percent,
  });
})();
