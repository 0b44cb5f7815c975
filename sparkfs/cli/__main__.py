from sparkfs.cli.main import main

main()
