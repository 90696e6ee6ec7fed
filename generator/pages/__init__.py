"""The site's pages in navigation order, each declared once: its module, title, summary and the models it reads.

A gallery module has one entry point and one render-time step (sigal's writer / ``generate_context``)::

    Config                                  # a frozen dataclass of the page's knobs, with ``quick()``
    run(models, dataset, config, build) -> PageResult       # images, numbers and manifest items (data only)
    context(result) -> dict                 # the template's ready-made rows, captions and SVG charts

``templates/<name>.html`` lays out what ``context`` returns; it computes nothing. The home page and the downloads
datasheet are made last, from the galleries' results (``run(results)`` and ``run(files)``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Page:
    """One page: file stem (``<name>.html``, ``data/<name>.json``), navigation title, one-line summary, module."""

    name: str
    title: str
    summary: str
    module: str                       # under generator.pages
    models: tuple[str, ...] = ()      # roles of the models it reads (the page sees no others)
    download: tuple[str, ...] = ()    # kinds of manifest item offered as ``downloads/<name>.npz``

    @property
    def module_name(self) -> str:
        """The page module's dotted name."""
        return f"generator.pages.{self.module}"

    def load(self) -> ModuleType:
        """The page module."""
        return importlib.import_module(self.module_name)


CLASSIFIERS = ("reader", "judge")
PAGES: tuple[Page, ...] = (
    Page("index", "Home", "What a small neural network thinks a handwritten digit is, and whether an independent judge "
         "agrees.", "home"),
    Page("data", "Data", "The digits the models learn from: class counts, mean digits, intensities and z-score maps.",
         "data", CLASSIFIERS),
    Page("classifier", "Classifier", "The reader and the judge: architectures, training curves, confusion matrices.",
         "classifier", ("reader", "judge", "ensemble", "panel", "autoencoder", "vae", "diffusion")),
    Page("hard", "Hard digits", "Every held-out digit the reader gets wrong, and training labels that look wrong.",
         "hard", ("reader", "judge", "ensemble")),
    Page("dreams", "Dreams", "What the reader imagines each digit looks like, from noise, from the mean, and improved.",
         "dreams", ("reader", "judge", "ensemble", "panel", "vae", "diffusion"), ("dream", "ablation", "identikit")),
    Page("ambiguous", "Ambiguous pairs", "A 10×10 grid of digits that read as one number upright and another upside "
         "down.", "ambiguous", ("reader", "judge", "ensemble", "panel", "vae", "diffusion"), ("ambiguous",)),
    Page("muddle", "Muddle", "The autoencoder's latent space and digits caught between two classes.",
         "muddle", ("reader", "judge", "ensemble", "autoencoder", "diffusion"), ("muddle",)),
    Page("synthetic", "Synthetic", "Bézier-stroke digits under growing jitter, and hard-example mining.",
         "synthetic", ("reader", "judge", "ensemble"), ("template", "example", "failure", "mined", "left-out")),
    Page("try", "Try it", "Draw a digit and watch the reader classify it, upright and upside down, in your browser.",
         "try_it", CLASSIFIERS),
    Page("downloads", "Downloads", "The generated digits as data sets: images, intended labels, reader and judge "
         "probabilities.", "downloads"),
)
HOME, DOWNLOADS = PAGES[0], PAGES[-1]   # made last, from the galleries' results
GALLERIES = PAGES[1:-1]


def page(name: str) -> Page:
    """The page called ``name``."""
    return next(p for p in PAGES if p.name == name)
