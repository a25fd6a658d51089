"""`python -m ocpp_chaos` is `ocpp-chaos`."""

import sys

from ocpp_chaos.cli import main

sys.exit(main())
