// Ambiguous pairs: a grid cell turns over (rotates 180°) when clicked or activated with Enter/Space, and back.
"use strict";
document.querySelectorAll("button.flip").forEach((button) => {
  button.addEventListener("click", () => {
    button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
  });
});
