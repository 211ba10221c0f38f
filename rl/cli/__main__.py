import sys

from rl.cli.main import main

sys.exit(main())
