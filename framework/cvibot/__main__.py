from cvibot._cli.main import main

main()
