"""Turning page results into the website: result types, images and SVG charts, the Jinja writer, and the build
pipeline that runs every step with its cache."""
