from localforge.frontends.cli import entry

entry()
