"""``python -m stylegan_tutorial`` runs the command line."""

from stylegan_tutorial.cli import main

raise SystemExit(main())
