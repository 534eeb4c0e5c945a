import sys

from assistant.serving.cli import main

sys.exit(main())
