"""``python -m utils.instruction_data.formats validate|convert ...``: see the package docstring."""

import sys

from utils.instruction_data.formats.cli import main

if __name__ == "__main__":  # guarded, so that importing it (doctest collection) runs nothing
    sys.exit(main())
