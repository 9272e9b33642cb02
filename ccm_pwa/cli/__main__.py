"""Allow `python -m ccm_pwa.cli`."""

import sys

from ccm_pwa.cli import main

sys.exit(main())
