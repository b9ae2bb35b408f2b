from bot.sandbox.github.cli import main

raise SystemExit(main())
