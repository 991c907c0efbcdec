"""The ``gatedforecast`` command line: ``compare`` and ``forecast``.

- :mod:`.options`: the parser, the library's choices, options to parameters;
- :mod:`.data`: reading and checking a file (or the airline data);
- :mod:`.compare` and :mod:`.report`: the rolling-origin comparison, its table,
  ``compare.json`` and ``compare.png``;
- :mod:`.forecast`: fit on all the data, ``forecast.csv`` and ``forecast.png``;
- :mod:`.plot`: matplotlib where it is installed;
- :mod:`.app`: :func:`main`, which runs a command and turns errors into one line.

Importing this package (and ``--help``) loads neither torch nor sktime.
"""

from .app import main
from .options import build_parser

__all__ = ["build_parser", "main"]
