"""The command line's subcommands: one module each, a thin layer over the library.

Each module defines ``add_arguments(parser)`` and ``run(args) -> int``. ``run`` turns the parsed
options into keyword arguments for the library (as stylegan2-ada's ``train.py`` does for its
``training_loop``), calls it, and prints what a user needs to know. The library never imports
this package, and nothing outside it parses a command line.
"""
