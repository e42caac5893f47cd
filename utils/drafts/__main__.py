"""``python -m utils.drafts convert ...``: the 17lands draft-file command of ``utils.drafts.files``."""

import sys

from utils.drafts.files import main

sys.exit(main())
