"""Renderers: the same bounce and explanation as a JSON record (``record.py``) or as terminal
text (``terminal.py``), imported from their modules: a JSON run does not load the terminal
renderer and its text-width tables."""
