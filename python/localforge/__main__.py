from localforge.frontends.cli import main

raise SystemExit(main())
