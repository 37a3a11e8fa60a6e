from localforge.cli import main

raise SystemExit(main())
