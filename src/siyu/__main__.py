from siyu.cli import main

main()
