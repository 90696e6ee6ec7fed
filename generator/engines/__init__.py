"""Generators that pages combine, none of them page-specific: the optimisation loop (``optvis``), hill climbing,
walks through a decoder's latent space, and the Bézier-stroke pen."""
