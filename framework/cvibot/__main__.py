from cvibot.cli.main import main

main()
