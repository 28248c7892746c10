from lume.runtime.cli import main

main()
