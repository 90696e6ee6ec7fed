/* Digit Dreams — MNIST-style preprocessing in the browser: the line-by-line twin of
   generator/preprocess.py::mnist_style (its docstring gives the algorithm; the tests hold the two to 1/255 per pixel).
   Pure functions, no canvas, no page: a plain script (load it with defer before the page script) that sets

     window.DigitPreprocess = {
       SIZE, BOX, INK_THRESHOLD, TIE,    the Python module's constants
       mnistStyle(gray, width, height, invert)
                                         grey values in [0, 1] (any array-like of width * height numbers, row by row;
                                         clipped to [0, 1] like Python's floats) -> Float32Array(784), ink 1 on 0.
                                         invert: true / false, or undefined / null for the border-mean rule
       lumaFromRGBA(rgba, count)         RGBA bytes -> Float64Array of grey in [0, 1]: Pillow's "L" conversion after
                                         compositing on white (load_image's), for canvases and images
     }

   Float64 arithmetic throughout, like NumPy; only summation order differs (~1e-16). */
(function () {
  "use strict";

  const SIZE = 28;
  const BOX = 20;
  const INK_THRESHOLD = 0.05;
  const TIE = 1e-6;

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

  function mnistStyle(gray, width, height, invert) {
    if (!gray || gray.length !== width * height) throw new Error("mnistStyle: gray must hold width * height values");
    // Step 1: float64 in [0, 1] (Python: np.clip for floats), inverted when asked or when the border is light.
    let image = Float64Array.from(gray, (v) => Math.min(Math.max(v, 0), 1));
    if (invert === undefined || invert === null) invert = borderMean(image, width, height) > 0.5;
    if (invert) image = image.map((v) => 1 - v);
    // Steps 2-3: the ink's bounding box; no ink, an empty canvas.
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
    if (bottom < 0) return canvas;
    // Step 4: longer side to BOX by area averaging. Rows first (Wh @ crop), then columns ((...) @ Ww.T), as in Python.
    const cropH = bottom - top + 1, cropW = right - left + 1;
    const longer = Math.max(cropH, cropW);
    const newH = Math.max(1, Math.floor(cropH * BOX / longer + 0.5));
    const newW = Math.max(1, Math.floor(cropW * BOX / longer + 0.5));
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
    // Step 5: centre of mass in pixel-index coordinates, pasted at floor(14 - c + 0.5).
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
    return canvas;
  }

  window.DigitPreprocess = Object.freeze({ SIZE, BOX, INK_THRESHOLD, TIE, mnistStyle, lumaFromRGBA });
})();
